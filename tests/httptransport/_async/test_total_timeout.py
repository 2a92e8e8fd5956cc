"""The ``total`` timeout: one deadline over the pool wait, connecting, sending and the
whole response; and the ``read`` timeout bounding an HTTP/2 response head as a whole."""

from __future__ import annotations

import socket
import threading
import time
import typing
from collections.abc import Iterator

import pytest

from httptransport import AsyncConnectionPool, PoolTimeout, ReadTimeout


class TrickleServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers each request with a head, then a
    100-byte body one byte every 50 ms (5 s in all): every read finds data quickly, so
    only a deadline over the whole body can stop it early."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        with sock:
            sock.recv(65536)
            try:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                for _ in range(100):
                    if self._stop.wait(0.05):  # (pacing the peer, not synchronising)
                        return
                    sock.sendall(b"x")
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:  # pragma: no cover - platform-dependent
            pass
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def trickle_server(require_backend: None) -> Iterator[TrickleServer]:
    server = TrickleServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.anyio
async def test_total_bounds_a_trickling_body(trickle_server: TrickleServer) -> None:
    """Each read is quick, so the 2 s read timeout never trips; the 0.5 s total does."""
    async with AsyncConnectionPool() as pool:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await pool.request(
                "GET", trickle_server.url(), extensions={"timeout": {"read": 2.0, "total": 0.5}}
            )
        assert time.monotonic() - started < 3.0
        assert pool.connections == []  # a half-read response leaves nothing behind


@pytest.mark.anyio
async def test_total_covers_the_pool_wait(server: typing.Any) -> None:
    """A request queued behind a busy connection gives up when its total runs out,
    however long its own ``pool`` timeout."""
    async with AsyncConnectionPool(max_connections=1) as pool:
        async with pool.stream("GET", server.url("/")):
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                await pool.request(
                    "GET", server.url("/"), extensions={"timeout": {"pool": 30.0, "total": 0.2}}
                )
            assert time.monotonic() - started < 5.0
        assert (await pool.request("GET", server.url("/"))).status == 200


@pytest.mark.anyio
async def test_total_leaves_a_quick_request_alone(server: typing.Any) -> None:
    async with AsyncConnectionPool() as pool:
        response = await pool.request(
            "GET", server.url("/"), extensions={"timeout": {"total": 30.0, "read": 5.0}}
        )
        assert response.status == 200


def _slow_head(peer: typing.Any, index: int) -> None:
    """Answer with a response head sent one byte every 100 ms."""
    [stream_id] = peer.requests(1)
    peer.h2.send_headers(stream_id, [(b":status", b"200"), (b"x-padding", b"p" * 60)])
    data = peer.h2.data_to_send()
    for byte in data:
        if peer.closed:
            return
        try:
            peer.sock.sendall(bytes([byte]))
        except OSError:
            return
        time.sleep(0.1)  # (pacing the peer, not synchronising)


@pytest.mark.anyio
async def test_http2_read_timeout_bounds_the_whole_head(h2_peer: typing.Any) -> None:
    """A head arriving a byte every 100 ms (about 7 s) trips a 1 s read timeout, though
    every single read is quick."""
    peer = h2_peer(_slow_head)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await pool.request("GET", peer.url("/"), extensions={"timeout": {"read": 1.0}})
        assert time.monotonic() - started < 4.0


def _slow_body(peer: typing.Any, index: int) -> None:
    """Answer with a head, then 100 one-byte DATA frames, one every 50 ms."""
    [stream_id] = peer.requests(1)
    peer.h2.send_headers(stream_id, [(b":status", b"200")])
    peer.flush()
    for _ in range(100):
        time.sleep(0.05)  # (pacing the peer, not synchronising)
        try:
            peer.h2.send_data(stream_id, b"x")
            peer.flush()
        except Exception:
            return


@pytest.mark.anyio
async def test_http2_total_bounds_a_trickling_body(h2_peer: typing.Any) -> None:
    peer = h2_peer(_slow_body)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await pool.request(
                "GET", peer.url("/"), extensions={"timeout": {"read": 2.0, "total": 0.5}}
            )
        assert time.monotonic() - started < 3.0
