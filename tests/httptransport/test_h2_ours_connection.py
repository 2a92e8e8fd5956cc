"""The HTTP/2 connection's shortcuts for a response that came whole with its head.

Such a response is finished at once (its stream freed, its window given back); the
WINDOW_UPDATE that giving the window back may queue is sent before the response is
returned (and nothing is written when it queued none), and ``Response.aread`` /
``Response.read`` take the body without iterating it. Async and sync connections alike,
over a scripted mock stream.
"""

from __future__ import annotations

import typing

import pytest

h2_config = pytest.importorskip("h2.config")
h2_connection = pytest.importorskip("h2.connection")
netbackend_mock = pytest.importorskip("netbackend_mock")

from httptransport import AsyncHTTP2Connection, HTTP2Connection, Origin  # noqa: E402
from httptransport._async.http2_body import AsyncHTTP2Body  # noqa: E402
from httptransport._h2_adapter import CONNECTION_WINDOW  # noqa: E402
from httptransport._sync.http2_body import HTTP2Body  # noqa: E402

_WINDOW_UPDATE = 0x8


def _server_script(body: bytes) -> bytes:
    """The server's side of one GET on stream 1: SETTINGS, then the whole response."""
    client = h2_connection.H2Connection(h2_config.H2Configuration(client_side=True))
    client.initiate_connection()
    server = h2_connection.H2Connection(h2_config.H2Configuration(client_side=False))
    server.initiate_connection()
    request = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "e")]
    client.send_headers(1, request, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200")])
    server.send_data(1, body, end_stream=True)
    return typing.cast(bytes, server.data_to_send())


def _frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """``(type, stream id, payload)`` of each frame the client wrote (after the preface)."""
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert data.startswith(preface)
    pos = len(preface)
    frames = []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        kind = data[pos + 3]
        stream_id = int.from_bytes(data[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
        frames.append((kind, stream_id, data[pos + 9 : pos + 9 + length]))
        pos += 9 + length
    return frames


def _connection_updates(written: typing.Iterable[bytes]) -> list[int]:
    """The increments of the connection-level WINDOW_UPDATE frames written."""
    return [
        int.from_bytes(payload, "big")
        for kind, stream_id, payload in _frames(b"".join(written))
        if kind == _WINDOW_UPDATE and stream_id == 0
    ]


def _near_update(conn: typing.Any, body: bytes) -> None:
    """Make the connection's window manager one response short of a WINDOW_UPDATE:
    acknowledging ``body`` crosses half the connection window."""
    manager = conn._h2_state._inbound_flow_control_window_manager
    manager._bytes_processed = CONNECTION_WINDOW // 2 - len(body)


@pytest.mark.anyio
@pytest.mark.parametrize("crossing", [True, False])
async def test_a_window_update_an_early_finish_queues_is_sent_with_the_response(
    crossing: bool,
) -> None:
    """The response came whole: giving its window back queues a WINDOW_UPDATE when it
    crosses h2's threshold, and that frame is written before the response is returned;
    when it queues none, nothing more is written."""
    body = b"x" * 100
    stream = netbackend_mock.AsyncMockStream([_server_script(body)])
    conn = AsyncHTTP2Connection(Origin(b"http", b"e", 80), stream)
    if crossing:
        _near_update(conn, body)
    response = await conn.handle_async_request(_request())
    assert response.stream.complete  # type: ignore[union-attr]
    assert 1 not in conn._streams
    updates = _connection_updates(stream.written)
    # (The first is the one opening the connection window to CONNECTION_WINDOW.)
    # (h2 gives back no more than the window lacks: the body just consumed.)
    assert updates[1:] == ([len(body)] if crossing else [])
    assert conn._h2_state.data_to_send() == b""
    assert await response.aread() == body
    await conn.aclose()


@pytest.mark.parametrize("crossing", [True, False])
def test_a_window_update_an_early_finish_queues_is_sent_with_the_response_sync(
    crossing: bool,
) -> None:
    """The sync twin of the test above."""
    body = b"x" * 100
    stream = netbackend_mock.MockStream([_server_script(body)])
    conn = HTTP2Connection(Origin(b"http", b"e", 80), stream)
    if crossing:
        _near_update(conn, body)
    response = conn.handle_request(_request())
    assert response.stream.complete  # type: ignore[union-attr]
    updates = _connection_updates(stream.written)
    # (h2 gives back no more than the window lacks: the body just consumed.)
    assert updates[1:] == ([len(body)] if crossing else [])
    assert conn._h2_state.data_to_send() == b""
    assert response.read() == body
    conn.close()


def _request() -> typing.Any:
    from httptransport import Request

    return Request("GET", "http://e/", headers=[(b"Host", b"e")])


class _NoConnection:
    """A body that came whole never asks its connection for anything."""

    def __getattr__(self, name: str) -> typing.NoReturn:
        raise AssertionError(f"the connection was asked for {name}")


@pytest.mark.anyio
async def test_a_whole_body_is_read_in_order_without_iterating() -> None:
    """``aread`` on a body that came whole gives its chunks joined in order, once; the
    response's ``aread`` takes it that way (not through ``__anext__``)."""
    from httptransport import Response

    def make(chunks: list[bytes]) -> AsyncHTTP2Body:
        return AsyncHTTP2Body(
            typing.cast(typing.Any, _NoConnection()), object(), None, [], None, chunks
        )

    assert await make([b"a", b"bc", b"d"]).aread() == b"abcd"
    assert await make([b"a"]).aread() == b"a"
    assert await make([]).aread() == b""
    body = make([b"a", b"b"])
    assert await body.aread() == b"ab"
    assert await body.aread() == b""  # (consumed: what iterating it again would give)
    body = make([b"x", b"y"])
    assert [chunk async for chunk in body] == [b"x", b"y"]
    assert await body.aread() == b""

    class Counting(AsyncHTTP2Body):
        __slots__ = ("steps",)
        steps: int

        async def __anext__(self) -> bytes:
            self.steps += 1
            return await super().__anext__()

    counted = Counting(typing.cast(typing.Any, _NoConnection()), object(), None, [], None, [b"z"])
    counted.steps = 0
    response = Response(200, content=counted)
    assert await response.aread() == b"z"
    assert counted.steps == 0
    await response.aclose()


def test_a_whole_body_is_read_in_order_without_iterating_sync() -> None:
    """The sync twin of the test above."""
    from httptransport import Response

    def make(chunks: list[bytes]) -> HTTP2Body:
        return HTTP2Body(typing.cast(typing.Any, _NoConnection()), object(), None, [], None, chunks)

    assert make([b"a", b"bc", b"d"]).read() == b"abcd"
    assert make([]).read() == b""
    body = make([b"x", b"y"])
    assert list(body) == [b"x", b"y"]
    assert body.read() == b""

    class Counting(HTTP2Body):
        __slots__ = ("steps",)
        steps: int

        def __next__(self) -> bytes:
            self.steps += 1
            return super().__next__()

    counted = Counting(typing.cast(typing.Any, _NoConnection()), object(), None, [], None, [b"z"])
    counted.steps = 0
    response = Response(200, content=counted)
    assert response.read() == b"z"
    assert counted.steps == 0
    response.close()


@pytest.mark.parametrize(
    ("limit", "capacity"), [(0, 1), (1, 1), (7, 7), (2**31, 2**31), (2**40, 2**31)]
)
def test_stream_capacity_is_the_limit_clamped_to_what_streams_allow(
    limit: int, capacity: int
) -> None:
    """At least 1 (a server announcing 0 still gets one request at a time), at most the
    number of stream ids there are."""
    conn = HTTP2Connection(Origin(b"http", b"e", 80), netbackend_mock.MockStream([]))
    conn._table.max_streams = limit
    assert conn.stream_capacity() == capacity
