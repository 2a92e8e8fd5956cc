"""Byte-exact HTTP/1.1 behaviour of the async connection, on the mock backend."""

from __future__ import annotations

import typing

import pytest

import httptransport._h1_head as _h1_head
from httptransport import (
    URL,
    AsyncHTTP11Connection,
    ConnectionNotAvailable,
    LocalProtocolError,
    Origin,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    WriteError,
)
from httptransport._async import http11

netbackend_mock = pytest.importorskip("netbackend_mock")


class _Parts:
    """A request body iterated chunk by chunk (not a generator: nothing to finalise)."""

    def __init__(self, parts: list[bytes]) -> None:
        self._parts = list(parts)

    def __aiter__(self) -> _Parts:
        return self

    async def __anext__(self) -> bytes:
        if not self._parts:
            raise StopAsyncIteration
        return self._parts.pop(0)


ORIGIN = Origin(b"http", b"example.com", 80)
OK = [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n", b"hello"]


async def _connection(chunks: list[bytes], **kwargs: typing.Any) -> typing.Any:
    backend = netbackend_mock.AsyncMockBackend(chunks)
    stream = await backend.connect_tcp("example.com", 80)
    return AsyncHTTP11Connection(ORIGIN, stream, **kwargs), stream


@pytest.mark.anyio
async def test_get_bytes_on_the_wire() -> None:
    """A GET is sent exactly as h11 would, and the response parsed with raw header case."""
    conn, stream = await _connection(list(OK))
    response = await conn.request(
        "GET", "http://example.com/path?q=1", headers={"Accept": "*/*", "X-Empty": ""}
    )
    assert stream.data_written == (
        b"GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty: \r\n\r\n"
    )
    assert response.status == 200
    assert response.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]
    assert response.content == b"hello"
    assert response.extensions["reason_phrase"] == b"OK"
    assert conn.is_idle()
    assert conn.is_available()
    assert not conn.is_closed()
    assert conn.info() == "'http://example.com:80', HTTP/1.1, IDLE, Request Count: 1"
    assert repr(conn) == (
        "<AsyncHTTP11Connection ['http://example.com:80', IDLE, Request Count: 1]>"
    )
    assert not conn.has_expired()


@pytest.mark.anyio
async def test_bodies_on_the_wire() -> None:
    """Bytes bodies get Content-Length; iterables are chunk-encoded."""

    async def parts() -> typing.AsyncIterator[bytes]:
        yield b"ab"
        yield b"cde"

    conn, stream = await _connection(OK + OK + OK)
    await conn.request("POST", "http://example.com/", content=b"data")
    await conn.request("POST", "http://example.com/", content=parts())
    await conn.request(
        "POST",
        "http://example.com/",
        headers={"Transfer-Encoding": "chunked"},
        content=b"xyz",
    )
    assert stream.data_written == (
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4\r\n\r\ndata"
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nxyz\r\n0\r\n\r\n"
    )


@pytest.mark.anyio
async def test_content_length_mismatch() -> None:
    """A body longer or shorter than its Content-Length is refused and the connection closed."""

    cases: list[tuple[bytes, typing.Any]] = [
        (b"2", b"abc"),
        (b"2", _Parts([b"abc"])),
        (b"5", _Parts([b"abc"])),
    ]
    for length, content in cases:
        conn, _ = await _connection(list(OK))
        request = Request(
            "POST",
            "http://example.com/",
            headers=[(b"Host", b"x"), (b"Content-Length", length)],
            content=content,
        )
        with pytest.raises(LocalProtocolError, match="Content-Length"):
            await conn.handle_async_request(request)
        assert conn.is_closed()


@pytest.mark.anyio
async def test_invalid_requests_go_through_h11() -> None:
    """Requests the lean path refuses get h11's error: bad header, no Host."""
    conn, _ = await _connection(list(OK))
    with pytest.raises(LocalProtocolError):
        await conn.handle_async_request(
            Request("GET", "http://example.com/", headers=[(b"Host", b"x"), (b"Bad", b"a\r\nb")])
        )
    conn, _ = await _connection(list(OK))
    with pytest.raises(LocalProtocolError, match="Host"):
        await conn.handle_async_request(Request("GET", "http://example.com/"))


def _watch_h11(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record the method of every request whose cycle runs through h11."""
    methods: list[bytes] = []
    cycle = AsyncHTTP11Connection._h11_cycle

    async def watched(
        self: typing.Any, request: Request, *args: typing.Any, **kw: typing.Any
    ) -> typing.Any:
        methods.append(request.method)
        return await cycle(self, request, *args, **kw)

    monkeypatch.setattr(AsyncHTTP11Connection, "_h11_cycle", watched)
    return methods


@pytest.mark.anyio
async def test_odd_framing_request_uses_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request with a duplicated Content-Length still goes out, framed by h11: the
    lean path declines it, h11 runs the cycle and sends one Content-Length (the lean
    path would have copied both)."""
    h11_cycles = _watch_h11(monkeypatch)
    conn, stream = await _connection(list(OK))
    request = Request(
        "POST",
        "http://example.com/",
        headers=[(b"Host", b"x"), (b"Content-Length", b"1"), (b"Content-Length", b"1")],
        content=b"a",
    )
    assert _h1_head.prepare_head(request) is None
    response = await conn.handle_async_request(request)
    assert await response.aread() == b"hello"
    assert h11_cycles == [b"POST"]
    assert stream.data_written == b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
    assert conn.is_idle()


@pytest.mark.anyio
async def test_response_split_across_reads() -> None:
    """A head and body arriving byte by byte are reassembled; the buffer carries over."""
    raw = b"".join(OK) + b"".join(OK)
    conn, _ = await _connection([raw[i : i + 1] for i in range(len(raw))])
    for _ in range(2):
        response = await conn.request("GET", "http://example.com/")
        assert response.content == b"hello"


@pytest.mark.anyio
async def test_h11_fallback_responses() -> None:
    """Chunked, informational, folded and close-delimited responses are handled by h11."""
    conn, _ = await _connection(
        [
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"3\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 200 OK\n\nbye",
        ]
    )
    response = await conn.request("GET", "http://example.com/")
    assert (response.status, response.content) == (200, b"abc")
    response = await conn.request("GET", "http://example.com/")
    assert response.content == b"ok"
    response = await conn.request("GET", "http://example.com/")
    assert response.content == b"bye"
    assert conn.is_closed()


@pytest.mark.anyio
async def test_head_and_no_content() -> None:
    """HEAD, 204 and 304 responses have no body whatever their Content-Length says."""
    conn, _ = await _connection(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
        ]
    )
    for method in ("HEAD", "GET", "GET"):
        response = await conn.request(method, "http://example.com/")
        assert response.content == b""
    assert conn.info().endswith("IDLE, Request Count: 3")


@pytest.mark.anyio
async def test_connection_close_headers() -> None:
    """'Connection: close' on either side closes the connection after the response."""
    conn, _ = await _connection(
        [b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n"]
    )
    await conn.request("GET", "http://example.com/")
    assert conn.is_closed()
    conn, _ = await _connection(list(OK))
    await conn.request("GET", "http://example.com/", headers={"Connection": "close"})
    assert conn.is_closed()


@pytest.mark.anyio
async def test_remote_protocol_errors() -> None:
    """Garbage, an early EOF, or bytes after the response close the connection."""
    conn, _ = await _connection([b"NOT HTTP\r\n\r\n"])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")
    assert conn.is_closed()
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"])
    with pytest.raises(RemoteProtocolError, match="7 bytes missing"):
        await conn.request("GET", "http://example.com/")
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\nContent"])
    with pytest.raises(RemoteProtocolError, match="middle of the response head"):
        await conn.request("GET", "http://example.com/")
    conn, _ = await _connection([])
    with pytest.raises(RemoteProtocolError, match="without sending a response"):
        await conn.request("GET", "http://example.com/")
    conn, _ = await _connection([b"".join(OK) + b"junk"])
    await conn.request("GET", "http://example.com/")
    assert conn.is_closed()
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")


@pytest.mark.anyio
async def test_stale_reused_connection() -> None:
    """EOF before any response byte on a reused connection marks idempotent requests retryable."""
    conn, _ = await _connection(list(OK))
    await conn.request("GET", "http://example.com/")
    with pytest.raises(ConnectionNotAvailable):
        await conn.request("GET", "http://example.com/")
    conn, _ = await _connection(list(OK))
    await conn.request("GET", "http://example.com/")
    with pytest.raises(RemoteProtocolError, match="without sending a response"):
        await conn.request("POST", "http://example.com/", content=b"x")


@pytest.mark.anyio
async def test_busy_and_wrong_origin() -> None:
    """A busy connection is not available; another origin's request is refused; a
    closed one reports closed, not expired (as in httpcore)."""
    conn, _ = await _connection(list(OK) + list(OK))
    async with conn.stream("GET", "http://example.com/") as response:
        with pytest.raises(ConnectionNotAvailable):
            await conn.request("GET", "http://example.com/")
        assert conn.info().endswith("ACTIVE, Request Count: 1")
        assert not conn.is_available()
        await response.aread()
    with pytest.raises(RuntimeError):
        await conn.request("GET", "http://other.com/")
    await conn.aclose()
    assert conn.is_closed()
    assert not conn.has_expired()  # as httpcore's: closed, with no expiry to be past


@pytest.mark.anyio
async def test_keepalive_expiry_and_close_before_end() -> None:
    """An idle connection expires; closing a response early closes its connection."""
    conn, _ = await _connection(list(OK), keepalive_expiry=0.0)
    await conn.request("GET", "http://example.com/")
    assert conn.has_expired()
    conn, _ = await _connection(list(OK))
    async with conn.stream("GET", "http://example.com/"):
        pass
    assert conn.is_closed()


@pytest.mark.anyio
async def test_upgrade_and_connect_via_h11() -> None:
    """101 and CONNECT hand the raw stream over, replaying bytes read ahead."""
    conn, stream = await _connection([b"HTTP/1.1 101 Switching\r\nUpgrade: ws\r\n\r\nxyz", b"!"])
    async with conn.stream(
        "GET", "http://example.com/", headers={"Upgrade": "ws", "Connection": "upgrade"}
    ) as response:
        assert response.status == 101
        network = response.extensions["network_stream"]
        assert await network.read(100) == b"xyz"
        assert await network.read(100) == b"!"
        await network.write(b"out")
        assert network.get_extra_info("client_addr") is not None
    assert stream.data_written.endswith(b"out")
    assert conn.is_closed()
    conn, stream = await _connection([b"HTTP/1.1 200 Connection established\r\n\r\n"])
    async with conn.stream(
        "CONNECT", "http://example.com/", extensions={"target": b"example.org:443"}
    ) as response:
        assert response.status == 200
        assert stream.data_written.startswith(b"CONNECT example.org:443 HTTP/1.1\r\n")
        network = response.extensions["network_stream"]
        tls = await network.start_tls(typing.cast(typing.Any, None), "example.org")
        assert tls is not None
        await network.aclose()


@pytest.mark.anyio
async def test_trace_on_fallback_paths() -> None:
    """Tracing reports the h11 path's phases and a failing body read."""
    events: list[str] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    conn, _ = await _connection(
        [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]
    )
    request = Request(
        "GET",
        "http://example.com/",
        headers={"Host": "example.com", "Upgrade": "x"},
        extensions={"trace": trace},
    )
    response = await conn.handle_async_request(request)
    assert await response.aread() == b"abc"
    assert "http11.send_request_headers.complete" in events
    assert "http11.receive_response_body.complete" in events
    events.clear()
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/", extensions={"trace": trace})
    assert "http11.receive_response_body.failed" in events


class _FailingStream(netbackend_mock.AsyncMockStream):  # type: ignore[misc,name-defined]
    """A mock stream whose writes fail, or (``read_error``) whose reads fail at the end."""

    def __init__(self, chunks: list[bytes], read_error: bool = False) -> None:
        super().__init__(chunks)
        self.read_error = read_error
        self.write_error = not read_error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.write_error:
            raise WriteError("broken pipe")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = await super().read(max_bytes, timeout)
        if not data and self.read_error:
            raise ReadError("reset")
        return data


@pytest.mark.anyio
@pytest.mark.parametrize("upgrade", [False, True], ids=["lean", "h11"])
async def test_write_error_then_early_response(upgrade: bool) -> None:
    """A response sent before the server stopped reading is returned despite the write
    error; without one the request fails as a disconnect, as in httpcore."""
    headers = [(b"Upgrade", b"x")] if upgrade else []
    stream = _FailingStream(list(OK))
    conn = AsyncHTTP11Connection(ORIGIN, stream)
    response = await conn.request("POST", "http://example.com/", headers=headers, content=b"x")
    assert response.content == b"hello"
    stream = _FailingStream([])
    conn = AsyncHTTP11Connection(ORIGIN, stream)
    with pytest.raises(
        RemoteProtocolError, match=r"^Server disconnected without sending a response\.$"
    ):
        await conn.request("POST", "http://example.com/", headers=headers, content=b"x")
    assert conn.is_closed()


@pytest.mark.anyio
@pytest.mark.parametrize("upgrade", [False, True], ids=["lean", "h11"])
async def test_read_errors(upgrade: bool) -> None:
    """A reset on a new connection is a ReadError, as in httpcore, before any byte or
    mid-head (only a reused connection's reset makes the request retryable)."""
    headers = [(b"Upgrade", b"x")] if upgrade else []
    conn = AsyncHTTP11Connection(ORIGIN, _FailingStream([], read_error=True))
    with pytest.raises(ReadError):
        await conn.request("GET", "http://example.com/", headers=headers)
    conn = AsyncHTTP11Connection(ORIGIN, _FailingStream([b"HTTP/1.1 200"], read_error=True))
    with pytest.raises(ReadError):
        await conn.request("GET", "http://example.com/", headers=headers)


@pytest.mark.anyio
async def test_more_lean_path_edges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Odd but valid inputs take the right path; invalid ones raise h11's errors.

    Valid: chunked framing with no body and a keep-alive Connection header, a streamed
    body under a Content-Length, a read timeout: all three go the lean way (h11 never
    runs), byte for byte, and leave the connection idle. Invalid: each goes to h11,
    which refuses it with its own message before anything is written."""
    h11_cycles = _watch_h11(monkeypatch)
    conn, stream = await _connection(OK + OK + OK)
    await conn.request(
        "POST",
        "http://example.com/",
        headers={"Transfer-Encoding": "chunked", "Connection": "keep-alive"},
    )
    await conn.request(
        "POST", "http://example.com/", headers={"Content-Length": "3"}, content=_Parts([b"abc"])
    )
    await conn.request("GET", "http://example.com/", extensions={"timeout": {"read": 1}})
    assert h11_cycles == []
    assert stream.data_written == (
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: keep-alive\r\n\r\n0\r\n\r\n"
        b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\nabc"
        b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    )
    assert conn.info().endswith("IDLE, Request Count: 3")
    assert conn.can_handle_request(ORIGIN)
    bad_requests = [
        (
            Request("GE T", "http://example.com/", headers={"Host": "x"}),
            "^Illegal method characters$",
        ),
        (
            Request(
                "GET", "http://example.com/", headers={"Host": "x"}, extensions={"target": "/ "}
            ),
            "^Illegal target characters$",
        ),
        (
            Request("GET", "http://example.com/", headers={"Host": "x", "Bad Name": "1"}),
            "^Illegal header name",
        ),
        (
            Request(
                "POST",
                "http://example.com/",
                headers={"Host": "x", "Transfer-Encoding": "gzip"},
                content=b"a",
            ),
            "^Only Transfer-Encoding: chunked is supported$",
        ),
    ]
    for number, (request, message) in enumerate(bad_requests, 1):
        conn, stream = await _connection(list(OK))
        with pytest.raises(LocalProtocolError, match=message):
            await conn.handle_async_request(request)
        assert len(h11_cycles) == number
        assert stream.data_written == b""
        assert conn.is_closed()


@pytest.mark.anyio
async def test_response_heads_the_lean_parser_passes_on() -> None:
    """Control bytes, lines without colons, bad names and unframed bodies go to h11."""
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\nX: \x01\r\nContent-Length: 0\r\n\r\n"])
    response = await conn.request("GET", "http://example.com/")
    assert response.headers == [(b"X", b"\x01"), (b"Content-Length", b"0")]
    for head in [
        b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ]:
        conn, _ = await _connection([head])
        with pytest.raises(RemoteProtocolError):
            await conn.request("GET", "http://example.com/")
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\n\r\nuntil close"])
    response = await conn.request("GET", "http://example.com/")
    assert response.content == b"until close"
    assert conn.is_closed()


@pytest.mark.anyio
async def test_repeated_header_lines_mean_the_same_every_time() -> None:
    """Header lines parsed once are remembered: later responses with the same lines get
    the same headers and framing, a remembered Content-Length line twice in one head is
    still refused, and long or many distinct lines are handled (and not all kept)."""
    long_value = b"v" * 300
    head = (
        b"HTTP/1.1 200 OK\r\nServer: test\r\nX-Long: " + long_value + b"\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    conn, _ = await _connection([head, head])
    for _ in range(2):
        response = await conn.request("GET", "http://example.com/")
        assert response.headers == [
            (b"Server", b"test"),
            (b"X-Long", long_value),
            (b"Content-Length", b"2"),
        ]
        assert response.content == b"ok"
    assert b"Server: test" in _h1_head._lines
    assert b"X-Long: " + long_value not in _h1_head._lines
    conn, _ = await _connection(
        [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n"]
    )
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    for _ in range(2):
        conn, _ = await _connection([close])
        await conn.request("GET", "http://example.com/")
        assert conn.is_closed()
    many = [b"HTTP/1.1 200 OK\r\nX-N: %d\r\nContent-Length: 0\r\n\r\n" % n for n in range(1500)]
    conn, _ = await _connection(many)
    for n in range(1500):
        response = await conn.request("GET", "http://example.com/")
        assert response.headers[0] == (b"X-N", b"%d" % n)
    assert len(_h1_head._lines) <= _h1_head._LINES_MAX


@pytest.mark.anyio
async def test_h11_body_edges() -> None:
    """An h11-framed body: iterating past the end, an early close, a broken body."""
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn, _ = await _connection([chunked + b"1\r\na\r\n0\r\n\r\n"])
    response = await conn.request("GET", "http://example.com/")
    leftovers = []
    async for chunk in typing.cast(typing.Any, response.stream):
        leftovers.append(chunk)
    assert leftovers == []
    conn, _ = await _connection([chunked + b"1\r\na\r\n"])
    async with conn.stream("GET", "http://example.com/"):
        pass
    assert conn.is_closed()
    conn, _ = await _connection([chunked + b"zz\r\n"])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")
    assert conn.is_closed()
    async with AsyncHTTP11Connection(ORIGIN, netbackend_mock.AsyncMockStream([])) as conn:
        assert conn.is_available() is False
    assert conn.is_closed()


@pytest.mark.anyio
async def test_content_length_of_thousands_of_digits() -> None:
    """A Content-Length of 5,000 digits is refused as a protocol error, in a response
    (RemoteProtocolError) and in a request (LocalProtocolError), never a ValueError."""
    huge = b"9" * 5000
    conn, _ = await _connection([b"HTTP/1.1 200 OK\r\nContent-Length: " + huge + b"\r\n\r\n"])
    with pytest.raises(RemoteProtocolError):
        await conn.request("GET", "http://example.com/")
    conn, _ = await _connection(list(OK))
    with pytest.raises(LocalProtocolError):
        await conn.request(
            "POST", "http://example.com/", headers={"Content-Length": huge.decode()}, content=b"x"
        )


@pytest.mark.anyio
async def test_request_connection_close_holds_on_the_h11_path() -> None:
    """A request's Connection: close closes the connection after its response also when
    the response is read by h11 (chunked), so it is never reused."""
    chunked = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"2\r\nok\r\n0\r\n\r\n"]
    conn, _ = await _connection(chunked)
    response = await conn.request("GET", "http://example.com/", headers={"Connection": "close"})
    assert response.content == b"ok"
    assert conn.is_closed()
    assert not conn.is_idle()


@pytest.mark.anyio
async def test_content_length_with_transfer_encoding_is_never_reused() -> None:
    """A response with both Content-Length and Transfer-Encoding is read by its chunked
    framing and its connection is closed after it (RFC 9112 section 6.3), never reused."""
    both = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"2\r\nok\r\n0\r\n\r\n",
    ]
    conn, _ = await _connection(both)
    response = await conn.request("GET", "http://example.com/")
    assert response.content == b"ok"
    assert conn.is_closed()


@pytest.mark.anyio
async def test_target_with_raw_high_bytes_is_refused() -> None:
    """A request target with bytes above 0x7e is refused as h11 refuses it (the lean path
    never sends what h11 would not)."""
    conn, stream = await _connection(list(OK))
    url = URL(scheme=b"http", host=b"example.com", port=80, target=b"/\xff\x80")
    with pytest.raises(LocalProtocolError):
        await conn.request("GET", url)
    assert stream.written == []


class _Trickle(netbackend_mock.AsyncMockStream):  # type: ignore[misc,name-defined]
    """Sends its bytes one per read, each 0.2 s later on the connection's clock."""

    def __init__(self, data: bytes, clock: list[float]) -> None:
        super().__init__([data[i : i + 1] for i in range(len(data))])
        self.clock = clock
        self.reads = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads += 1
        self.clock[0] += 0.2
        data: bytes = await super().read(max_bytes, timeout)
        return data


@pytest.mark.anyio
@pytest.mark.parametrize("upgrade", [False, True], ids=["lean", "h11"])
async def test_read_timeout_bounds_the_whole_head(
    upgrade: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A head sent one byte every 200 ms trips a 1 s read timeout after about 1 s: the
    timeout bounds the whole head, not each read."""
    clock = [0.0]
    monkeypatch.setattr(http11, "_clock", lambda: clock[0])
    stream = _Trickle(b"".join(OK), clock)
    conn = AsyncHTTP11Connection(ORIGIN, stream)
    headers = [(b"Upgrade", b"x")] if upgrade else []
    with pytest.raises(ReadTimeout, match="whole response head"):
        await conn.request(
            "GET", "http://example.com/", headers=headers, extensions={"timeout": {"read": 1.0}}
        )
    assert stream.reads <= 6
    assert conn.is_closed()


@pytest.mark.anyio
async def test_content_length_and_transfer_encoding_are_not_both_sent() -> None:
    """A request carrying both Content-Length and Transfer-Encoding is refused before
    anything is written (RFC 9112 section 6.2)."""
    conn, stream = await _connection(list(OK))
    headers = {"Content-Length": "3", "Transfer-Encoding": "chunked"}
    with pytest.raises(LocalProtocolError, match="both Content-Length and Transfer-Encoding"):
        await conn.request("POST", "http://example.com/", headers=headers, content=b"abc")
    assert stream.written == []
