"""HTTP/2 request bodies (``http2_request_body.send_body``) on the blocking and the
async pool: the server answering before the body is all sent, a streamed body longer
than its Content-Length, the wrong kind of body for the pool, and the ``total`` timeout
while a streamed body is sent. After each, the connection takes the next request."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Iterator

import pytest

from httptransport import AsyncConnectionPool, ConnectionPool, LocalProtocolError, WriteTimeout

h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

EXT = {"timeout": {"connect": 5.0, "read": 10.0, "write": 5.0, "pool": 5.0}}
# The server's stream window: the first 10 bytes of a body go, then the client waits.
SMALL_WINDOW = {h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: 10}


def _script(peer: typing.Any, index: int) -> None:
    """``/early`` is answered as soon as its HEADERS arrive (``/early-trailers`` too,
    with trailers); anything else, once its body has ended, with the number of body
    bytes received."""
    paths: dict[int, bytes] = {}
    received: dict[int, int] = {}
    for event in peer.each_event():
        if isinstance(event, h2_events.RequestReceived):
            paths[event.stream_id] = dict(event.headers)[b":path"]
            if paths[event.stream_id] == b"/early":
                peer.respond(event.stream_id, b"early")
            elif paths[event.stream_id] == b"/early-trailers":
                peer.respond(event.stream_id, b"early", trailers=[(b"x-end", b"1")])
        elif isinstance(event, h2_events.DataReceived):
            received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
            peer.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            peer.flush()
        elif isinstance(event, h2_events.StreamEnded) and not paths.get(
            event.stream_id, b""
        ).startswith(b"/early"):
            peer.respond(event.stream_id, str(received.get(event.stream_id, 0)).encode())


def _pieces() -> Iterator[bytes]:
    yield b"x" * 50
    yield b"y" * 50


async def _async_pieces() -> AsyncIterator[bytes]:
    for piece in _pieces():
        yield piece


def _body_bytes(peer: typing.Any, stream_id: int) -> int:
    received = peer.connections[0].received
    return sum(
        len(e.data)
        for e in received
        if isinstance(e, h2_events.DataReceived) and e.stream_id == stream_id
    )


def _resets(peer: typing.Any, stream_id: int) -> list[int]:
    """The error codes of the RST_STREAM frames the server received on ``stream_id``."""
    return [
        e.error_code
        for e in peer.connections[0].received
        if isinstance(e, h2_events.StreamReset) and e.stream_id == stream_id
    ]


def _ended_or_reset(peer: typing.Any, stream_id: int) -> bool:
    return any(
        isinstance(e, (h2_events.StreamEnded, h2_events.StreamReset)) and e.stream_id == stream_id
        for e in peer.connections[0].received
    )


# -- the blocking pool ---------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "streamed"])
def test_an_answer_before_the_body_is_sent_ends_the_sending(
    h2_peer: typing.Any, streamed: bool
) -> None:
    """The server answers while the body waits for flow-control window: sending stops
    (only the first window's 10 bytes went), the answer is the response, and the
    connection takes the next request."""
    peer = h2_peer(_script, settings=SMALL_WINDOW)
    with ConnectionPool(http1=False, http2=True) as pool:
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        content = _pieces() if streamed else b"x" * 100
        response = pool.request("POST", peer.url("/early"), content=content, extensions=EXT)
        assert (response.status, response.content) == (200, b"early")
        assert pool.request("POST", peer.url("/"), content=b"abc", extensions=EXT).content == b"3"
        assert len(pool.connections) == 1
    assert _body_bytes(peer, 3) == 10


def test_an_answer_before_the_body_is_sent_frees_the_servers_stream(h2_peer: typing.Any) -> None:
    """RFC 9113 section 5.1.2: a stream half-closed on the server still counts against
    its SETTINGS_MAX_CONCURRENT_STREAMS. A request that stops sending after an early
    answer must end its stream (RST_STREAM) so the server can free it; else, with a
    limit of 2, the third such request breaks the connection."""
    settings = dict(SMALL_WINDOW)
    settings[h2_settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 2
    peer = h2_peer(_script, settings=settings)
    with ConnectionPool(http1=False, http2=True) as pool:
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        response = pool.request("POST", peer.url("/early"), content=b"x" * 100, extensions=EXT)
        assert response.content == b"early"
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        assert _ended_or_reset(peer, 3)


@pytest.mark.parametrize("traced", [False, True], ids=["plain", "traced"])
@pytest.mark.parametrize("path", ["/early", "/early-trailers"], ids=["whole", "read-later"])
def test_an_early_answer_resets_the_stream_once_the_response_has_ended(
    h2_peer: typing.Any, path: str, traced: bool
) -> None:
    """The answer comes, whole, while the body waits for window: sending stops, and
    the stream is reset with NO_ERROR (RFC 9113 section 8.1) once the response has
    ended, both when its whole body came with the head and when it is read afterwards
    (with trailers it is); the response is intact."""
    peer = h2_peer(_script, settings=SMALL_WINDOW)
    events: list[str] = []
    ext = dict(EXT, trace=lambda name, info: events.append(name)) if traced else EXT
    with ConnectionPool(http1=False, http2=True) as pool:
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        response = pool.request("POST", peer.url(path), content=b"x" * 100, extensions=ext)
        assert (response.status, response.content) == (200, b"early")
        trailers = response.extensions["trailers"]
        assert trailers == ([(b"x-end", b"1")] if path == "/early-trailers" else [])
        # (The server has read the reset by the time it answers the next request.)
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        assert len(pool.connections) == 1
    assert _resets(peer, 3) == [0]
    assert ("http2.send_request_body.complete" in events) is traced


def test_a_streamed_body_longer_than_its_content_length(h2_peer: typing.Any) -> None:
    peer = h2_peer(_script)
    with ConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(LocalProtocolError, match="Content-Length"):
            pool.request(
                "POST",
                peer.url("/"),
                headers={"Content-Length": "60"},
                content=_pieces(),
                extensions=EXT,
            )
        assert pool.request("POST", peer.url("/"), content=b"abc", extensions=EXT).content == b"3"
        assert len(pool.connections) == 1


def test_the_blocking_pool_refuses_an_async_body(h2_peer: typing.Any) -> None:
    peer = h2_peer(_script)
    with ConnectionPool(http1=False, http2=True) as pool:
        wrong: typing.Any = _async_pieces()
        with pytest.raises(TypeError, match="needs an iterable request body"):
            pool.request("POST", peer.url("/"), content=wrong, extensions=EXT)
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"


def test_a_streamed_body_under_a_total_timeout(h2_peer: typing.Any) -> None:
    """Each piece of a streamed body is sent within what is left of the ``total``
    timeout: all of it with time to spare; once the time is up, WriteTimeout."""
    peer = h2_peer(_script)
    with ConnectionPool(http1=False, http2=True) as pool:
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"
        spare = {"timeout": {"total": 30.0}}
        assert pool.request("POST", peer.url("/"), content=_pieces(), extensions=spare).content == (
            b"100"
        )
        with pytest.raises(WriteTimeout):  # sending the head or the body, whichever first
            pool.request(
                "POST", peer.url("/"), content=_pieces(), extensions={"timeout": {"total": 1e-9}}
            )
        assert pool.request("GET", peer.url("/"), extensions=EXT).content == b"0"


# -- the async pool ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "streamed"])
async def test_async_answer_before_the_body_is_sent_ends_the_sending(
    h2_peer: typing.Any, anyio_backend: str, streamed: bool
) -> None:
    peer = h2_peer(_script, settings=SMALL_WINDOW)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/"), extensions=EXT)).content == b"0"
        content = _async_pieces() if streamed else b"x" * 100
        response = await pool.request("POST", peer.url("/early"), content=content, extensions=EXT)
        assert (response.status, response.content) == (200, b"early")
        response = await pool.request("POST", peer.url("/"), content=b"abc", extensions=EXT)
        assert response.content == b"3"
        assert len(pool.connections) == 1
    assert _body_bytes(peer, 3) == 10


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/early", "/early-trailers"], ids=["whole", "read-later"])
async def test_async_early_answer_resets_the_stream_once_the_response_has_ended(
    h2_peer: typing.Any, anyio_backend: str, path: str
) -> None:
    peer = h2_peer(_script, settings=SMALL_WINDOW)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/"), extensions=EXT)).content == b"0"
        response = await pool.request("POST", peer.url(path), content=b"x" * 100, extensions=EXT)
        assert (response.status, response.content) == (200, b"early")
        assert (await pool.request("GET", peer.url("/"), extensions=EXT)).content == b"0"
        assert len(pool.connections) == 1
    assert _resets(peer, 3) == [0]


@pytest.mark.anyio
async def test_async_streamed_body_longer_than_its_content_length(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    peer = h2_peer(_script)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(LocalProtocolError, match="Content-Length"):
            await pool.request(
                "POST",
                peer.url("/"),
                headers={"Content-Length": "60"},
                content=_async_pieces(),
                extensions=EXT,
            )
        response = await pool.request("POST", peer.url("/"), content=b"abc", extensions=EXT)
        assert response.content == b"3"


@pytest.mark.anyio
async def test_the_async_pool_refuses_a_blocking_body(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    peer = h2_peer(_script)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        with pytest.raises(TypeError, match="needs an async iterable request body"):
            await pool.request("POST", peer.url("/"), content=_pieces(), extensions=EXT)
        assert (await pool.request("GET", peer.url("/"), extensions=EXT)).content == b"0"


@pytest.mark.anyio
async def test_async_streamed_body_under_a_total_timeout(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    peer = h2_peer(_script)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/"), extensions=EXT)).content == b"0"
        spare = {"timeout": {"total": 30.0}}
        response = await pool.request(
            "POST", peer.url("/"), content=_async_pieces(), extensions=spare
        )
        assert response.content == b"100"
        with pytest.raises(WriteTimeout):  # sending the head or the body, whichever first
            await pool.request(
                "POST",
                peer.url("/"),
                content=_async_pieces(),
                extensions={"timeout": {"total": 1e-9}},
            )
