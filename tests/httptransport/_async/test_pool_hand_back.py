"""HTTP/1.1 bodies that hand their connection back to the pool themselves (no wrapper):
released when read to the end, whole or chunk by chunk; dropped when closed early or
when reading fails; the pool's counts after each."""

from __future__ import annotations

import pytest

import netbackend_mock
from httptransport import AsyncConnectionPool, RemoteProtocolError
from httptransport._async.http11_body import AsyncFixedBody, AsyncH11Body

FIXED = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"]
SPLIT = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", b"llo"]
CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"]
SHORT = [b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello"]


def _counts(pool: AsyncConnectionPool) -> str:
    return repr(pool).split("[", 1)[1]


IDLE = "Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
ACTIVE = "Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
GONE = "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"


@pytest.mark.anyio
@pytest.mark.parametrize("script", [FIXED, SPLIT, CHUNKED])
async def test_read_whole_releases(script: list[bytes]) -> None:
    backend = netbackend_mock.AsyncMockBackend(script * 2)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        for _ in range(2):
            async with pool.stream("GET", "http://example.com/") as response:
                assert type(response.stream) in (AsyncFixedBody, AsyncH11Body)
                assert _counts(pool) == ACTIVE
                assert await response.aread() == b"hello"
                assert _counts(pool) == IDLE
            assert _counts(pool) == IDLE
            assert response.extensions["trailers"] == []
        assert len(backend.streams) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("script", "seen"),
    [
        # A fixed-length body releases with its last chunk; an h11-framed one when it
        # finds its end, after its last chunk.
        (FIXED, [(b"hello", IDLE)]),
        (SPLIT, [(b"he", ACTIVE), (b"llo", IDLE)]),
        (CHUNKED, [(b"hello", ACTIVE)]),
    ],
)
async def test_read_in_chunks_releases(script: list[bytes], seen: list[tuple[bytes, str]]) -> None:
    backend = netbackend_mock.AsyncMockBackend(script)
    async with (
        AsyncConnectionPool(network_backend=backend) as pool,
        pool.stream("GET", "http://example.com/") as response,
    ):
        assert type(response.stream) in (AsyncFixedBody, AsyncH11Body)
        assert [(chunk, _counts(pool)) async for chunk in response.aiter_stream()] == seen
        assert _counts(pool) == IDLE


@pytest.mark.anyio
@pytest.mark.parametrize("script", [FIXED, CHUNKED])
async def test_closed_early_drops(script: list[bytes]) -> None:
    backend = netbackend_mock.AsyncMockBackend(script)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        async with pool.stream("GET", "http://example.com/") as response:
            assert type(response.stream) in (AsyncFixedBody, AsyncH11Body)
            assert _counts(pool) == ACTIVE
        assert _counts(pool) == GONE
        assert backend.streams[0].closed


@pytest.mark.anyio
async def test_failed_read_drops() -> None:
    backend = netbackend_mock.AsyncMockBackend(SHORT)
    async with AsyncConnectionPool(network_backend=backend) as pool:
        async with pool.stream("GET", "http://example.com/") as response:
            assert type(response.stream) is AsyncFixedBody
            with pytest.raises(RemoteProtocolError, match="4 bytes missing"):
                await response.aread()
            assert _counts(pool) == GONE
            assert backend.streams[0].closed
        assert _counts(pool) == GONE


@pytest.mark.anyio
async def test_no_body_releases_at_once() -> None:
    backend = netbackend_mock.AsyncMockBackend([b"HTTP/1.1 204 No Content\r\n\r\n"])
    async with AsyncConnectionPool(network_backend=backend) as pool:
        async with pool.stream("GET", "http://example.com/") as response:
            assert _counts(pool) == IDLE
            assert await response.aread() == b""
        assert _counts(pool) == IDLE
