"""``request()`` reads the whole body at once: an HTTP/1.1 body that came whole with its
head is taken then, so the connection is free for the next request as soon as the
response is built. ``stream()``, a body still to come and a traced request keep the
connection until the body is read."""

from __future__ import annotations

import typing

import pytest

import netbackend_mock
from httptransport import AsyncConnectionPool, Request, Response

WHOLE = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]
SPLIT = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", b"llo"]
BEYOND = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA"]
CLOSE = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"]

IDLE = "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
ACTIVE = "Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
GONE = "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"


class WatchedPool(AsyncConnectionPool):
    """Records the pool's counts as each response is handed back to ``request()``."""

    seen: list[str]

    async def handle_async_request(self, request: Request) -> Response:
        response = await super().handle_async_request(request)
        self.seen.append(repr(self).split("[", 1)[1])
        return response


def _pool(script: list[bytes]) -> tuple[WatchedPool, netbackend_mock.AsyncMockBackend]:
    backend = netbackend_mock.AsyncMockBackend(script)
    pool = WatchedPool(network_backend=backend)
    pool.seen = []
    return pool, backend


@pytest.mark.anyio
async def test_a_body_that_came_with_its_head_frees_the_connection_at_once() -> None:
    pool, backend = _pool(WHOLE * 3)
    async with pool:
        for _ in range(3):
            response = await pool.request("GET", "http://example.com/")
            assert response.status == 200
            assert response.content == b"hello"
        assert pool.seen == [IDLE, IDLE, IDLE]
        assert len(backend.streams) == 1  # one connection, reused


@pytest.mark.anyio
async def test_the_response_reads_as_a_read_one() -> None:
    pool, _ = _pool(WHOLE)
    async with pool:
        response = await pool.request("GET", "http://example.com/")
        assert await response.aread() == b"hello"
        with pytest.raises(RuntimeError, match="may only be iterated once"):
            [chunk async for chunk in response.aiter_stream()]
        await response.aclose()
        await response.aclose()
        assert response.extensions["http_version"] == b"HTTP/1.1"
        assert response.extensions["reason_phrase"] == b"OK"
        assert response.extensions["trailers"] == []
        assert repr(pool).split("[", 1)[1] == IDLE


@pytest.mark.anyio
@pytest.mark.parametrize("script", [BEYOND, CLOSE], ids=["bytes-beyond-the-body", "close"])
async def test_a_connection_that_cannot_be_kept_is_closed(script: list[bytes]) -> None:
    pool, backend = _pool(script + WHOLE)
    async with pool:
        response = await pool.request("GET", "http://example.com/")
        assert response.content == b"hello"
        assert pool.seen == [GONE]
        assert backend.streams[0].closed
        response = await pool.request("GET", "http://example.com/")
        assert response.content == b"hello"
        assert len(backend.streams) == 2


@pytest.mark.anyio
async def test_a_body_still_to_come_is_read_after_the_head() -> None:
    pool, backend = _pool(SPLIT * 2)
    async with pool:
        for _ in range(2):
            response = await pool.request("GET", "http://example.com/")
            assert response.content == b"hello"
            assert repr(pool).split("[", 1)[1] == IDLE
        assert pool.seen == [ACTIVE, ACTIVE]
        assert len(backend.streams) == 1


@pytest.mark.anyio
async def test_stream_keeps_the_connection_until_the_body_is_read() -> None:
    pool, _ = _pool(WHOLE)
    async with pool, pool.stream("GET", "http://example.com/") as response:
        assert pool.seen == [ACTIVE]
        assert repr(pool).split("[", 1)[1] == ACTIVE
        assert await response.aread() == b"hello"
        assert repr(pool).split("[", 1)[1] == IDLE


@pytest.mark.anyio
async def test_a_traced_request_reports_its_body_as_before() -> None:
    events: list[str] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    pool, _ = _pool(WHOLE)
    async with pool:
        response = await pool.request("GET", "http://example.com/", extensions={"trace": trace})
        assert response.content == b"hello"
    assert pool.seen == [ACTIVE]
    assert events[-4:] == [
        "http11.receive_response_body.started",
        "http11.receive_response_body.complete",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]
