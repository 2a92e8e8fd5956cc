"""HTTP/2 streams on a shared connection: limits, headers, resets, GOAWAY and keep-alive."""

from __future__ import annotations

import ssl
import threading
import typing

import pytest

from httptransport import (
    AsyncConnectionPool,
    LocalProtocolError,
    PoolTimeout,
    RemoteProtocolError,
)

h2_connection = pytest.importorskip("h2.connection")
h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

MAX_STREAMS = h2_settings.SettingCodes.MAX_CONCURRENT_STREAMS


@pytest.mark.anyio
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "h2c"])
async def test_real_server_multiplexes(
    h2_server: typing.Any, client_ssl_context: ssl.SSLContext, concurrently: typing.Any, tls: bool
) -> None:
    """Concurrent requests to hypercorn share one HTTP/2 connection."""
    server = h2_server(tls=tls)
    # The pool never edits a caller's context: offering h2 is the caller's choice.
    client_ssl_context.set_alpn_protocols(["h2", "http/1.1"])
    results: list[bytes] = []
    async with AsyncConnectionPool(
        ssl_context=client_ssl_context if tls else None,
        http1=tls,
        http2=True,
    ) as pool:

        async def one() -> None:
            response = await pool.request("GET", server.url("/"))
            assert response.extensions["http_version"] == b"HTTP/2"
            results.append(response.content)

        await concurrently(one, 20)
        assert results == [b"hello"] * 20
        assert len(pool.connections) == 1
        response = await pool.request("GET", server.url("/host"), headers={"Host": "example.org"})
        assert response.content == b"example.org"


def _path(event: typing.Any) -> bytes:
    return bytes(dict(event.headers)[b":path"])


def _unfinished_responder(peer: typing.Any, index: int) -> None:
    """Answer ``/ok`` fully; anything else with a head and a first chunk only."""
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if isinstance(event, h2_events.RequestReceived):
                if _path(event) == b"/ok":
                    peer.respond(event.stream_id, b"done")
                else:
                    peer.h2.send_headers(event.stream_id, [(b":status", b"200")])
                    peer.h2.send_data(event.stream_id, b"first")
                    peer.flush()


@pytest.mark.anyio
async def test_abandoned_streams_free_their_slots(h2_peer: typing.Any) -> None:
    """Closing 1,000 unfinished responses early resets each stream and frees its slot."""
    peer = h2_peer(_unfinished_responder, settings={MAX_STREAMS: 10})
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        for _ in range(1000):
            async with pool.stream("GET", peer.url("/more")) as response:
                body = typing.cast(typing.AsyncIterator[bytes], response.stream)
                assert await body.__anext__() == b"first"
        response = await pool.request("GET", peer.url("/ok"))
        assert response.content == b"done"
        assert len(pool.connections) == 1
    resets = [e for e in peer.connections[0].received if isinstance(e, h2_events.StreamReset)]
    assert len(resets) == 1000
    assert {e.error_code for e in resets} == {8}  # CANCEL


def _answer_all(peer: typing.Any, index: int) -> None:
    """Answer every request with its path, plus a trailer; record what arrived."""
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if isinstance(event, h2_events.StreamEnded):
                request = next(
                    e
                    for e in peer.received
                    if isinstance(e, h2_events.RequestReceived) and e.stream_id == event.stream_id
                )
                peer.respond(event.stream_id, _path(request), trailers=[(b"x-check", b"7")])


@pytest.mark.anyio
async def test_saturated_connection_opens_another(
    h2_peer: typing.Any, concurrently: typing.Any
) -> None:
    """With MAX_CONCURRENT_STREAMS=1, a second concurrent request opens a second
    connection instead of queueing behind the first (encode/httpx#283)."""
    lock = threading.Lock()
    busy: list[int] = []
    two_busy = threading.Event()

    def script(peer: typing.Any, index: int) -> None:
        """Answer the first request, then hold the next until two connections are busy."""
        [first] = peer.requests(1)
        peer.respond(first)
        if index == 0:
            [held] = peer.requests(1)
        else:
            held = 0
        with lock:
            busy.append(index)
            if len(busy) >= 2:
                two_busy.set()
        two_busy.wait(10)
        if held:
            peer.respond(held, b"held")
        _answer_all(peer, index)

    peer = h2_peer(script, settings={MAX_STREAMS: 1})
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=2) as pool:
        # Learn the limit first (the server's SETTINGS arrive with the first answer).
        assert (await pool.request("GET", peer.url("/first"))).content == b"ok"
        bodies: list[bytes] = []

        async def one() -> None:
            bodies.append((await pool.request("GET", peer.url("/n"))).content)

        await concurrently(one, 2)
        assert sorted(bodies) == [b"held", b"ok"]
        assert len(pool.connections) == 2
    assert two_busy.is_set()


def _lower_limit(peer: typing.Any, index: int) -> None:
    """Take three streams, lower MAX_CONCURRENT_STREAMS to 1, then answer them all,
    and everything after."""
    ids = peer.requests(3)
    peer.h2.update_settings({MAX_STREAMS: 1})
    peer.flush()
    for stream_id in ids:
        peer.respond(stream_id, b"early")
    _answer_all(peer, index)


@pytest.mark.anyio
async def test_lowered_limit_below_in_flight_does_not_deadlock(
    h2_peer: typing.Any, concurrently: typing.Any
) -> None:
    """A limit lowered below the streams in flight lets them finish, then is obeyed."""
    peer = h2_peer(_lower_limit)
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        bodies: list[bytes] = []

        async def one() -> None:
            bodies.append((await pool.request("GET", peer.url("/later"))).content)

        await concurrently(one, 3)
        assert bodies == [b"early"] * 3
        bodies.clear()
        await concurrently(one, 4)
        assert bodies == [b"/later"] * 4
        connection = pool.connections[0]
        assert connection.stream_capacity() == 1


def _raise_limit(peer: typing.Any, index: int) -> None:
    """Start at one stream; on the second request raise the limit to ten, then answer all."""
    [first] = peer.requests(1)
    peer.respond(first)
    [second] = peer.requests(1)
    peer.h2.update_settings({MAX_STREAMS: 10})
    peer.flush()
    peer.respond(second)
    _answer_all(peer, index)


@pytest.mark.anyio
async def test_raised_limit_wakes_queued_requests(
    h2_peer: typing.Any, concurrently: typing.Any
) -> None:
    """Queued requests share the connection as soon as the server raises its limit."""
    peer = h2_peer(_raise_limit, settings={MAX_STREAMS: 1})
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        assert (await pool.request("GET", peer.url("/"))).content == b"ok"
        bodies: list[bytes] = []

        async def one() -> None:
            bodies.append((await pool.request("GET", peer.url("/q"))).content)

        await concurrently(one, 4)
        assert sorted(bodies) == [b"/q"] * 3 + [b"ok"]
        assert typing.cast(typing.Any, pool.connections[0]).stream_capacity() == 10
    assert len(peer.connections) == 1


@pytest.mark.anyio
async def test_waiting_for_a_stream_slot_is_bounded_by_the_pool_timeout(
    h2_peer: typing.Any,
) -> None:
    """With every stream of the only connection busy, a request times out as PoolTimeout."""
    peer = h2_peer(_unfinished_responder, settings={MAX_STREAMS: 1})
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"
        async with pool.stream("GET", peer.url("/more")):
            with pytest.raises(PoolTimeout):
                await pool.request("GET", peer.url("/ok"), extensions={"timeout": {"pool": 0.1}})
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"


@pytest.mark.anyio
async def test_limit_lowered_before_the_pool_noticed(h2_peer: typing.Any) -> None:
    """A shared connection that refuses a stream sends the request round the pool again,
    which then knows the new limit and waits for a slot."""
    peer = h2_peer(_unfinished_responder)
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"
        async with pool.stream("GET", peer.url("/more")):
            inner = typing.cast(typing.Any, pool.connections[0])._connection
            assert not inner.has_expired()
            assert inner.usable(inner._idle_since + 5.0)
            assert "ACTIVE" in inner.info()
            # As if a SETTINGS frame lowering the limit had just been read.
            inner._table.max_streams = 1
            with pytest.raises(PoolTimeout):
                await pool.request("GET", peer.url("/ok"), extensions={"timeout": {"pool": 0.1}})
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"
        assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_exhausted_stream_ids_move_to_a_new_connection(h2_peer: typing.Any) -> None:
    """A connection out of stream ids takes no more requests; the pool opens another."""
    peer = h2_peer(_answer_all)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/a"))).content == b"/a"
        inner = typing.cast(typing.Any, pool.connections[0])._connection
        inner._h2_state.highest_outbound_stream_id = 2**31 - 1
        assert (await pool.request("GET", peer.url("/b"))).content == b"/b"
    assert len(peer.connections) == 2


@pytest.mark.anyio
async def test_headers_trailers_and_stream_id(h2_peer: typing.Any) -> None:
    """:authority comes from Host, connection-specific headers are dropped, trailers
    and stream ids are reported."""
    peer = h2_peer(_answer_all)
    headers: dict[bytes | str, bytes | str] = {
        "Host": "example.org:8443",
        "Connection": "keep-alive",
        "Keep-Alive": "5",
        "Proxy-Connection": "x",
        "Upgrade": "h2c",
        "TE": "gzip",
        "X-Keep": "yes",
    }
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        response = await pool.request("GET", peer.url("/a"), headers=headers)
        assert response.content == b"/a"
        assert response.extensions["trailers"] == [(b"x-check", b"7")]
        assert response.extensions["stream_id"] == 1
        response = await pool.request("GET", peer.url("/b"), headers={"TE": "trailers"})
        assert response.extensions["stream_id"] == 3
    requests = [e for e in peer.connections[0].received if isinstance(e, h2_events.RequestReceived)]
    first = requests[0].headers
    assert first[:4] == [
        (b":method", b"GET"),
        (b":authority", b"example.org:8443"),
        (b":scheme", b"http"),
        (b":path", b"/a"),
    ]
    assert [name for name, _ in first[4:]] == [b"x-keep"]
    assert (b"te", b"trailers") in requests[1].headers


def test_request_header_list() -> None:
    """CONNECT has no :scheme/:path; credentials are never indexed; bad targets fail."""
    from httptransport import Request
    from httptransport._h2_adapter import import_h2
    from httptransport._h2_headers import request_headers as _request_headers

    import_h2()
    request = Request(
        "CONNECT", "http://example.com:8080/", headers={"Authorization": "secret", "Host": "h"}
    )
    headers = _request_headers(request)
    assert headers[:2] == [(b":method", b"CONNECT"), (b":authority", b"h")]
    assert type(headers[2]).__name__ == "NeverIndexedHeaderTuple"
    request = Request("GET", "http://example.com:8080/")
    assert (b":authority", b"example.com:8080") in _request_headers(request)
    request = Request("GET", "http://example.com/a b")
    with pytest.raises(LocalProtocolError):
        _request_headers(request)


@pytest.mark.anyio
async def test_invalid_request_header_is_local_protocol_error(h2_peer: typing.Any) -> None:
    """Header values HTTP/2 forbids raise LocalProtocolError; the connection carries on."""
    peer = h2_peer(_answer_all)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/a"))).content == b"/a"
        with pytest.raises(LocalProtocolError):
            await pool.request("GET", peer.url("/a"), headers={"x-bad": "a\r\nb"})
        with pytest.raises(LocalProtocolError):
            await pool.request("GET", peer.url("/a"), headers={":path": "/again"})
        with pytest.raises(LocalProtocolError):
            await pool.request("GET", peer.url("/a"), headers={"x-bad": " padded"})
        with pytest.raises(LocalProtocolError):
            await pool.request("GET  ", peer.url("/a"))
        assert (await pool.request("GET", peer.url("/b"))).content == b"/b"
        assert len(pool.connections) == 1


_MALFORMED: dict[bytes, list[tuple[bytes, bytes]]] = {
    b"/upper": [(b":status", b"200"), (b"X-Upper", b"1")],
    b"/connection": [(b":status", b"200"), (b"connection", b"close")],
    b"/status": [(b":status", b"2000")],
    b"/nostatus": [(b"x-a", b"1")],
    b"/late-pseudo": [(b"x-a", b"1"), (b":status", b"200")],
    b"/value": [(b":status", b"200"), (b"x-a", b" padded")],
}


def _behaviours(peer: typing.Any, index: int) -> None:
    """Per path: malformed heads, ``/nobody`` (204, no DATA), ``/early`` (413 before the
    upload ends), ``/bad-trailer``, ``/slow`` (never answered); else 200 "ok"."""
    conn = peer.h2
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if not isinstance(event, h2_events.RequestReceived):
                continue
            sid = event.stream_id
            path = _path(event)
            if path in _MALFORMED:
                conn.send_headers(sid, _MALFORMED[path], end_stream=True)
            elif path == b"/nobody":
                conn.send_headers(sid, [(b":status", b"204")], end_stream=True)
            elif path == b"/early":
                peer.respond(sid, b"too big", status=413)
            elif path == b"/bad-trailer":
                peer.respond(sid, b"body", trailers=[(b":status", b"200")])
            elif path != b"/slow":
                peer.respond(sid)
            peer.flush()


@pytest.mark.anyio
async def test_malformed_response_fails_only_that_request(h2_peer: typing.Any) -> None:
    """Malformed response heads and trailers are RemoteProtocolErrors for their request."""
    peer = h2_peer(_behaviours)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        for path in [*(p.decode() for p in _MALFORMED), "/bad-trailer"]:
            with pytest.raises(RemoteProtocolError, match=r"Malformed|without"):
                await pool.request("GET", peer.url(path))
        assert (await pool.request("GET", peer.url("/"))).content == b"ok"
        assert len(pool.connections) == 1
    assert len(peer.connections) == 1


@pytest.mark.anyio
async def test_response_without_body(h2_peer: typing.Any) -> None:
    """A head with END_STREAM is a complete response; the stream is freed at once."""
    peer = h2_peer(_behaviours)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        response = await pool.request("HEAD", peer.url("/nobody"))
        assert (response.status, response.content) == (204, b"")
        [connection] = pool.connections
        assert connection.is_idle()
        assert connection.is_available()
        assert not connection.has_expired()
        assert "IDLE" in repr(connection)


def _reset_second(peer: typing.Any, index: int) -> None:
    """Reset stream 3, answer the others."""
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if isinstance(event, h2_events.StreamEnded):
                if event.stream_id == 3:
                    peer.h2.reset_stream(3, error_code=2)
                    peer.flush()
                else:
                    peer.respond(event.stream_id)


@pytest.mark.anyio
async def test_rst_stream_fails_only_its_request(h2_peer: typing.Any) -> None:
    """RST_STREAM fails that request; the connection carries on."""
    peer = h2_peer(_reset_second)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url())).content == b"ok"
        with pytest.raises(RemoteProtocolError, match="reset"):
            await pool.request("GET", peer.url())
        assert (await pool.request("GET", peer.url())).content == b"ok"
        assert len(pool.connections) == 1
    assert len(peer.connections) == 1


def _reset_mid_body(peer: typing.Any, index: int) -> None:
    """Send a head and some body, then reset the stream."""
    [stream_id] = peer.requests(1)
    peer.h2.send_headers(stream_id, [(b":status", b"200")])
    peer.h2.send_data(stream_id, b"part")
    peer.h2.reset_stream(stream_id, error_code=2)
    peer.flush()
    _answer_all(peer, index)


@pytest.mark.anyio
async def test_reset_in_the_middle_of_the_body(h2_peer: typing.Any) -> None:
    """RST_STREAM after some of the body fails the read (traced too); the connection stays."""
    peer = h2_peer(_reset_mid_body)
    seen: list[str] = []

    async def trace(name: str, info: typing.Any) -> None:
        seen.append(name)

    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(RemoteProtocolError, match="reset"):
            await pool.request("GET", peer.url("/"), extensions={"trace": trace})
        assert "http2.receive_response_body.failed" in seen
        assert (await pool.request("GET", peer.url("/next"))).content == b"/next"
        assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_early_response_ends_the_upload(h2_peer: typing.Any) -> None:
    """A response that arrives while the body is still uploading stops the upload."""
    peer = h2_peer(_behaviours)

    class Body:
        """64 chunks of 64 KiB, counting how many were taken."""

        def __init__(self) -> None:
            self.sent = 0
            self.closed = False

        def __aiter__(self) -> Body:
            return self

        async def aclose(self) -> None:
            self.closed = True

        async def __anext__(self) -> bytes:
            if self.sent == 64:
                raise StopAsyncIteration
            self.sent += 1
            return b"x" * 65536

    body = Body()
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        response = await pool.request("POST", peer.url("/early"), content=body)
        assert (response.status, response.content) == (413, b"too big")
    assert body.sent < 64
    assert body.closed


@pytest.mark.anyio
async def test_read_timeouts_reset_streams(h2_peer: typing.Any, concurrently: typing.Any) -> None:
    """Requests that get no answer time out (reader and waiters alike) and the connection
    stays usable."""
    peer = h2_peer(_behaviours)
    errors: list[Exception] = []
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/"))).content == b"ok"

        async def one() -> None:
            try:
                await pool.request(
                    "GET", peer.url("/slow"), extensions={"timeout": {"read": 0.05, "write": 5}}
                )
            except Exception as exc:
                errors.append(exc)

        await concurrently(one, 3)
        assert [type(e).__name__ for e in errors] == ["ReadTimeout"] * 3
        assert (await pool.request("GET", peer.url("/"))).content == b"ok"
        assert len(pool.connections) == 1


def _goaway_after_two(peer: typing.Any, index: int) -> None:
    """First connection: take two requests, GOAWAY with last_stream_id=1, answer 1.
    Later connections: answer everything."""
    if index:
        _answer_all(peer, index)
        return
    ids = peer.requests(2)
    assert ids == [1, 3]
    peer.h2.close_connection(error_code=0, last_stream_id=1)
    peer.flush()
    # h2 refuses to send after its own GOAWAY; a graceful server still answers.
    peer.h2.state_machine.state = h2_connection.ConnectionState.SERVER_OPEN
    peer.respond(1, b"one")
    peer.events()  # until the client hangs up


@pytest.mark.anyio
async def test_goaway_retries_unprocessed_streams(
    h2_peer: typing.Any, concurrently: typing.Any
) -> None:
    """Streams above GOAWAY's last_stream_id go to a new connection; the rest finish."""
    peer = h2_peer(_goaway_after_two)
    bodies: list[bytes] = []
    async with AsyncConnectionPool(http1=False, http2=True) as pool:

        async def one() -> None:
            bodies.append((await pool.request("GET", peer.url("/x"))).content)

        await concurrently(one, 2)
    assert sorted(bodies) == [b"/x", b"one"]
    assert len(peer.connections) == 2


def _goaway_error(peer: typing.Any, index: int) -> None:
    """GOAWAY with an error code after the first request arrived."""
    if index:
        _answer_all(peer, index)
        return
    peer.requests(1)
    peer.h2.close_connection(error_code=1, last_stream_id=1)
    peer.flush()
    peer.events()


@pytest.mark.anyio
async def test_goaway_with_error_fails_processed_streams(h2_peer: typing.Any) -> None:
    """A processed stream fails with RemoteProtocolError on an error GOAWAY; the next
    request gets a new connection."""
    peer = h2_peer(_goaway_error)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(RemoteProtocolError, match="GOAWAY"):
            await pool.request("GET", peer.url("/x"))
        assert (await pool.request("GET", peer.url("/y"))).content == b"/y"
        assert len(pool.connections) == 1
    assert len(peer.connections) == 2


@pytest.mark.anyio
async def test_goaway_does_not_replay_a_streamed_body(h2_peer: typing.Any) -> None:
    """An unprocessed stream whose body was streamed fails instead of being replayed."""

    def script(peer: typing.Any, index: int) -> None:
        """Refuse the first stream with GOAWAY(last_stream_id=0) once its body arrived."""
        peer.requests(1)
        peer.h2.close_connection(error_code=0, last_stream_id=0)
        peer.flush()
        peer.events()

    peer = h2_peer(script)

    async def body() -> typing.AsyncIterator[bytes]:
        yield b"streamed"

    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(RemoteProtocolError, match="replayed"):
            await pool.request("POST", peer.url("/"), content=body())
    assert len(peer.connections) == 1


@pytest.mark.anyio
async def test_keepalive_ping_checks_idle_connections(h2_peer: typing.Any) -> None:
    """With keepalive_ping set, an idle connection is PINGed before it is reused."""
    peer = h2_peer(_answer_all)
    async with AsyncConnectionPool(http1=False, http2=True, keepalive_ping=0.0) as pool:
        for _ in range(3):
            assert (await pool.request("GET", peer.url("/p"))).content == b"/p"
    pings = [e for e in peer.connections[0].received if isinstance(e, h2_events.PingReceived)]
    assert len(pings) == 2
    assert len(peer.connections) == 1


def _deaf_after_first(peer: typing.Any, index: int) -> None:
    """Answer the first request, then read without ever answering (not even PING)."""
    if index:
        _answer_all(peer, index)
        return
    [stream_id] = peer.requests(1)
    peer.respond(stream_id)
    while peer.sock.recv(65536):
        pass


@pytest.mark.anyio
async def test_unanswered_keepalive_ping_replaces_the_connection(h2_peer: typing.Any) -> None:
    """A PING with no ACK within the read timeout sends the request to a new connection."""
    peer = h2_peer(_deaf_after_first)
    async with AsyncConnectionPool(http1=False, http2=True, keepalive_ping=0.0) as pool:
        assert (await pool.request("GET", peer.url("/"))).content == b"ok"
        response = await pool.request(
            "GET", peer.url("/again"), extensions={"timeout": {"read": 0.1}}
        )
        assert response.content == b"/again"
        assert len(pool.connections) == 1
    assert len(peer.connections) == 2


@pytest.mark.anyio
async def test_keepalive_expiry_retires_idle_connections(h2_peer: typing.Any) -> None:
    """An HTTP/2 connection idle past keepalive_expiry is closed, not reused."""
    peer = h2_peer(_answer_all)
    async with AsyncConnectionPool(http1=False, http2=True, keepalive_expiry=1e-9) as pool:
        assert (await pool.request("GET", peer.url("/a"))).content == b"/a"
        first = pool.connections[0]
        assert (await pool.request("GET", peer.url("/b"))).content == b"/b"
        assert first.is_closed()
        assert pool.connections != [first]
    assert len(peer.connections) == 2


@pytest.mark.anyio
async def test_traced_request_and_body(h2_peer: typing.Any) -> None:
    """The trace extension sees HTTP/2's send, receive and close events."""
    peer = h2_peer(_answer_all)
    seen: list[str] = []

    async def trace(name: str, info: typing.Any) -> None:
        seen.append(name)

    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        response = await pool.request(
            "POST", peer.url("/t"), content=b"data", extensions={"trace": trace}
        )
        assert response.content == b"/t"
    for name in (
        "http2.send_request_headers.started",
        "http2.send_request_body.complete",
        "http2.receive_response_headers.complete",
        "http2.receive_response_body.complete",
        "http2.response_closed.complete",
    ):
        assert name in seen


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "streamed"])
async def test_declared_content_length_must_match_the_body(
    h2_peer: typing.Any, streamed: bool
) -> None:
    """A body that does not add up to its declared Content-Length fails the request with
    LocalProtocolError and resets its stream (RFC 9113 section 8.1.1); the connection
    carries on."""
    peer = h2_peer(_answer_all)

    async def parts() -> typing.AsyncIterator[bytes]:
        yield b"ab"
        yield b"c"

    content: typing.Any = parts() if streamed else b"abc"
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(LocalProtocolError, match="declared Content-Length"):
            await pool.request(
                "POST", peer.url("/x"), headers={"Content-Length": "10"}, content=content
            )
        assert (await pool.request("GET", peer.url("/ok"))).content == b"/ok"


def _refuse_first(peer: typing.Any, index: int) -> None:
    """Refuse the first stream unprocessed (RST_STREAM REFUSED_STREAM), answer the rest."""
    [first] = peer.requests(1)
    peer.h2.reset_stream(first, error_code=0x7)
    peer.flush()
    _answer_all(peer, index)


@pytest.mark.anyio
async def test_a_refused_stream_is_retried(h2_peer: typing.Any) -> None:
    """A stream the server resets with REFUSED_STREAM was not processed (RFC 9113 section
    8.7): the request is sent again, and succeeds."""
    peer = h2_peer(_refuse_first)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        response = await pool.request("GET", peer.url("/again"))
    assert response.content == b"/again"
