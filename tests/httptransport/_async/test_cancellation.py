# unasync: async-only
"""Cancelling a request at any point frees its pool slot (asyncio and trio)."""

from __future__ import annotations

import typing

import anyio
import pytest

from httptransport import AsyncConnectionPool, AsyncNetworkBackend, AsyncNetworkStream

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
EMPTY_POOL = "<AsyncConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"


class HangingStream(AsyncNetworkStream):
    """Replays ``chunks``, then blocks for ever at ``hang`` ("read" or "write")."""

    def __init__(self, chunks: list[bytes], hang: str | None) -> None:
        self.chunks = list(chunks)
        self.hang = hang
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.hang == "read":
            await anyio.sleep_forever()
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self.hang == "write":
            await anyio.sleep_forever()

    async def aclose(self) -> None:
        self.closed = True
        await anyio.lowlevel.checkpoint()


class HangingBackend(AsyncNetworkBackend):
    """The first connection hangs at ``hang`` ("connect", "write", "read"); other
    connections (all of them for "none") answer ``OK`` to each request."""

    def __init__(self, hang: str, chunks: list[bytes] | None = None) -> None:
        self.hang = hang
        self.chunks = chunks or []
        self.streams: list[HangingStream] = []

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> AsyncNetworkStream:
        first = not self.streams
        if first and self.hang == "connect":
            self.streams.append(HangingStream([], None))
            await anyio.sleep_forever()
        if first and self.hang != "none":
            stream = HangingStream(self.chunks, self.hang)
        else:
            stream = HangingStream([OK] * 10, None)
        self.streams.append(stream)
        return stream


async def _cancel_when_blocked(fn: typing.Callable[[], typing.Any]) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(fn)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("hang", "chunks"),
    [
        ("connect", []),
        ("write", []),
        ("read", []),
        ("read", [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"]),
        ("read", [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n"]),
    ],
    ids=["connecting", "sending", "receiving-head", "streaming-body", "streaming-chunked"],
)
async def test_cancel_frees_the_slot(hang: str, chunks: list[bytes]) -> None:
    """Whatever the request was doing when cancelled, its slot comes back."""
    backend = HangingBackend(hang, chunks)
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:

        async def fetch() -> None:
            async with pool.stream("GET", "http://example.com/") as response:
                async for _ in response.aiter_stream():
                    pass

        await _cancel_when_blocked(fetch)
        assert repr(pool) == EMPTY_POOL
        if hang != "connect":
            assert backend.streams[0].closed
        response = await pool.request(
            "GET", "http://example.com/", extensions={"timeout": {"pool": 1}}
        )
        assert response.content == b"ok"


@pytest.mark.anyio
async def test_cancel_while_queued() -> None:
    """A request cancelled while waiting for a slot leaves the queue, and the pool works."""
    backend = HangingBackend("none")
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        async with pool.stream("GET", "http://example.com/") as held:

            async def fetch() -> None:
                await pool.request("GET", "http://example.com/")

            await _cancel_when_blocked(fetch)
            assert "1 active, 0 queued" in repr(pool)
            await held.aread()
        response = await pool.request(
            "GET", "http://example.com/", extensions={"timeout": {"pool": 1}}
        )
        assert response.content == b"ok"
        assert "Connections: 0 active, 1 idle" in repr(pool)


@pytest.mark.anyio
async def test_cancelled_waiter_passes_the_grant_on() -> None:
    """A waiter granted a connection but cancelled before using it hands it to the next."""
    backend = HangingBackend("none")
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        results: list[bytes] = []
        held = await pool.handle_async_request(_request())

        async def first() -> None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await pool.request("GET", "http://example.com/")

        async def second() -> None:
            results.append((await pool.request("GET", "http://example.com/")).content)

        scopes: list[anyio.CancelScope] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert "2 queued" in repr(pool)
            # Release the connection (granting it to `first`), then cancel `first`
            # before it runs: the grant must go on to `second`.
            await held.aread()
            scopes[0].cancel()
        assert results == [b"ok"]
        assert "Requests: 0 active, 0 queued" in repr(pool)


@pytest.mark.anyio
async def test_pool_timeout_under_load_does_not_leak() -> None:
    """Many waiters timing out leave the pool consistent."""
    backend = HangingBackend("none")
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        held = await pool.handle_async_request(_request())
        failures: list[BaseException] = []

        async def fetch() -> None:
            try:
                await pool.request(
                    "GET", "http://example.com/", extensions={"timeout": {"pool": 0.01}}
                )
            except Exception as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(fetch)
        assert len(failures) == 20
        assert "Requests: 1 active, 0 queued" in repr(pool)
        await held.aread()
        assert (await pool.request("GET", "http://example.com/")).content == b"ok"


def _request() -> typing.Any:
    from httptransport import Request

    return Request("GET", "http://example.com/", headers=[(b"Host", b"example.com")])


@pytest.mark.anyio
async def test_cancelled_connect_wakes_a_waiter() -> None:
    """A request cancelled while connecting hands its slot to the next queued request."""
    backend = HangingBackend("connect")
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        results: list[bytes] = []

        async def first() -> None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                await pool.request("GET", "http://example.com/")

        async def second() -> None:
            results.append((await pool.request("GET", "http://example.com/")).content)

        scopes: list[anyio.CancelScope] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert "1 queued" in repr(pool)
            scopes[0].cancel()
        assert results == [b"ok"]


@pytest.mark.anyio
async def test_response_closed_early_wakes_a_waiter() -> None:
    """Closing an unfinished response hands its slot to the next queued request."""
    backend = HangingBackend("none")
    async with AsyncConnectionPool(network_backend=backend, max_connections=1) as pool:
        results: list[bytes] = []
        held = await pool.handle_async_request(_request())

        async def second() -> None:
            results.append((await pool.request("GET", "http://example.com/")).content)

        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            await held.aclose()
        assert results == [b"ok"]
