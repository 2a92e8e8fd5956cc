"""HTTP/2 flow control: bodies far beyond the windows, and backpressure on a slow reader."""

from __future__ import annotations

import threading
import typing

import pytest

from httptransport import (
    AsyncConnectionPool,
)

h2_events = pytest.importorskip("h2.events")


@pytest.mark.anyio
async def test_large_upload_and_download(h2_server: typing.Any, concurrently: typing.Any) -> None:
    """Bodies far beyond the default windows go both ways, streamed or in memory."""
    server = h2_server(tls=False)
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def chunks() -> typing.AsyncIterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    async with AsyncConnectionPool(http1=False, http2=True) as pool:

        async def one() -> None:
            response = await pool.request("POST", server.url("/echo"), content=payload)
            assert response.content == payload
            response = await pool.request("GET", server.url("/bytes/3000000"))
            assert len(response.content) == 3_000_000

        await concurrently(one, 3)
        response = await pool.request("POST", server.url("/echo"), content=chunks())
        assert response.content == payload


@pytest.mark.anyio
async def test_slow_reader_gets_backpressure(h2_peer: typing.Any) -> None:
    """The server can send no more than our stream window until the body is consumed."""
    from httptransport._h2_adapter import STREAM_WINDOW

    total = 4 * 1024 * 1024
    stalled = threading.Event()
    stalls: list[int] = []

    def big_body(peer: typing.Any, index: int) -> None:
        [stream_id] = peer.requests(1)
        conn = peer.h2
        conn.send_headers(stream_id, [(b":status", b"200")])
        sent = 0
        while sent < total:
            size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
            size = min(size, total - sent)
            if size <= 0:
                stalls.append(sent)
                stalled.set()
                peer.flush()
                if peer.until(lambda e: isinstance(e, h2_events.WindowUpdated)) is None:
                    return
                continue
            conn.send_data(stream_id, b"x" * size, end_stream=sent + size == total)
            sent += size
        peer.flush()
        peer.events()

    peer = h2_peer(big_body)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        async with pool.stream("GET", peer.url()) as response:
            body = typing.cast(typing.AsyncIterator[bytes], response.stream)
            received = len(await body.__anext__())
            assert stalled.wait(10)
            assert stalls[0] <= STREAM_WINDOW
            async for chunk in body:
                received += len(chunk)
        assert received == total
    assert len(stalls) > 1


@pytest.mark.anyio
async def test_empty_data_frames_are_not_queued() -> None:
    """Thousands of empty DATA frames on a stream queue nothing (a hostile server could
    otherwise grow a stream's event queue without limit); the body is still read."""
    from httptransport import AsyncHTTP2Connection, Origin

    h2_config = pytest.importorskip("h2.config")
    h2_connection = pytest.importorskip("h2.connection")
    netbackend_mock = pytest.importorskip("netbackend_mock")
    client = h2_connection.H2Connection(h2_config.H2Configuration(client_side=True))
    client.initiate_connection()
    server = h2_connection.H2Connection(h2_config.H2Configuration(client_side=False))
    server.initiate_connection()
    request = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "e")]
    client.send_headers(1, request, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(b":status", b"200")])
    for _ in range(5000):
        server.send_data(1, b"")
    server.send_data(1, b"ok", end_stream=True)
    stream = netbackend_mock.AsyncMockStream([server.data_to_send()])
    conn = AsyncHTTP2Connection(Origin(b"http", b"e", 80), stream)
    async with conn.stream("GET", "http://e/") as response:
        # The whole body came with the head: the stream is finished, its one chunk kept.
        assert 1 not in conn._streams
        assert getattr(response.stream, "_chunks", None) == [b"ok"]
        assert await response.aread() == b"ok"
    await conn.aclose()
