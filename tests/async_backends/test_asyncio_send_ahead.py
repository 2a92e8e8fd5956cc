"""Sending ahead on asyncio: a request queued for an HTTP/1.1 connection is sent by the
task that releases the connection, and its own task wakes once, for its response.

The pool (``AsyncConnectionPool._send_ahead``), the connection
(``AsyncHTTP11Connection.send_ahead``) and the asyncio stream
(``AsyncioStream.send_ahead``) do it together; these tests drive all three against real
loopback servers, and the stream's part on its own.
"""

from __future__ import annotations

import importlib.util
import itertools
import socket
import threading
import types
import typing
from collections.abc import Callable, Coroutine, Generator

import anyio
import anyio.to_thread
import pytest

from httptransport import AsyncConnectionPool, ReadTimeout

Handler = Callable[[socket.socket], None]
# (connection number, request number on it, request head) -> the reply, or None to close
Replies = Callable[[int, int, bytes], "bytes | None"]

pytestmark = pytest.mark.anyio

_LOOPS = [pytest.param(("asyncio", {}), id="asyncio")]
if importlib.util.find_spec("uvloop") is not None:  # (not on every platform)
    _LOOPS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


@pytest.fixture(params=_LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> typing.Any:
    return request.param


@pytest.fixture(autouse=True)
def module(require: Callable[[str], types.ModuleType]) -> types.ModuleType:
    """Skipped where netbackend-anyio is not installed (failed where CI promised it)."""
    return require("netbackend_anyio")


class HTTPServer:
    """A loopback server answering each request head with ``replies``; it records every
    head it reads (``heads``) and sets ``got[n]`` once it has read ``n + 1`` of them."""

    def __init__(self, serve: Callable[[Handler], int], replies: Replies) -> None:
        self._replies = replies
        self._numbers = itertools.count()
        self.connections = 0
        self.heads: list[bytes] = []
        self.got = [threading.Event() for _ in range(8)]
        self.port = serve(self._handle)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handle(self, conn: socket.socket) -> None:
        number = next(self._numbers)
        self.connections += 1
        buffer = b""
        for index in itertools.count():
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            for line in head.lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    buffer = buffer[length:]
            self.heads.append(head)
            self.got[len(self.heads) - 1].set()
            reply = self._replies(number, index, head)
            if reply is None:
                return
            conn.sendall(reply)


@types.coroutine
def _counting(
    coro: Coroutine[typing.Any, typing.Any, typing.Any], suspensions: list[int]
) -> Generator[typing.Any, typing.Any, typing.Any]:
    """Run ``coro``, counting in ``suspensions[0]`` how often it hands control back to
    the event loop (each time, something must wake its task again)."""
    value: typing.Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value
        suspensions[0] += 1
        try:
            value, error = (yield yielded), None
        except BaseException as exc:
            value, error = None, exc


async def _pool(**kwargs: typing.Any) -> AsyncConnectionPool:
    from netbackend_anyio import AnyIOBackend

    return AsyncConnectionPool(max_connections=1, network_backend=AnyIOBackend(), **kwargs)


async def _until_queued(pool: AsyncConnectionPool) -> None:
    # (each turn lets the queued task run up to its wait; bounded by the test timeout)
    while "1 queued" not in repr(pool):
        await anyio.sleep(0)


class Second(typing.NamedTuple):
    suspensions: int  # how often the second request's task was suspended
    got: list[bytes | Exception]  # what it got (or raised)
    handed: str  # the connection's repr as the first response ended (before any await)


async def _second_while_first_streams(
    pool: AsyncConnectionPool, url: str, method: str = "GET", **kwargs: typing.Any
) -> Second:
    """Make a request queue behind a streaming one, then let the first finish."""
    suspensions = [0]
    got: list[bytes | Exception] = []

    async def second() -> None:
        try:
            response = await _counting(pool.request(method, url, **kwargs), suspensions)
        except Exception as exc:
            got.append(exc)
        else:
            got.append(response.content)

    async with anyio.create_task_group() as tg, pool.stream("GET", url) as first:
        tg.start_soon(second)
        await _until_queued(pool)
        assert await first.aread() == b"ok"
        handed = repr(pool.connections[0])
    return Second(suspensions[0], got, handed)


# The connection as the first response ends, when the second request was sent ahead:
# it is busy with that request although its task has not run since it queued.
SENT_AHEAD = "ACTIVE, Request Count: 2"


@pytest.mark.parametrize("extensions", [{}, {"timeout": TIMEOUTS}], ids=["none", "timeouts"])
async def test_a_queued_request_is_woken_once(
    serve: Callable[[Handler], int], extensions: dict[str, typing.Any]
) -> None:
    """Its request leaves as the first response ends, from the first request's task; its
    own task wakes only when its response is there (before: once more, to send it)."""
    server = HTTPServer(serve, lambda *_: OK)
    async with await _pool() as pool:
        second = await _second_while_first_streams(pool, server.url(), extensions=extensions)
        assert SENT_AHEAD in second.handed
        assert second.got == [b"ok"]
        assert second.suspensions == 1
        assert server.connections == 1
        assert len(server.heads) == 2
        assert "Connections: 0 active, 1 idle" in repr(pool)
        assert "Request Count: 2" in repr(pool.connections[0])


async def _no_trace(name: str, info: dict[str, typing.Any]) -> None:
    pass


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"content": b"body"}, id="a body"),
        pytest.param({"extensions": {"trace": _no_trace}}, id="traced"),
        pytest.param({"extensions": {"timeout": {"pool": 5.0}}}, id="a pool timeout only"),
        pytest.param({"extensions": {"timeout": {"read": 5.0}}}, id="a read timeout only"),
        pytest.param({"extensions": {"timeout": {"total": 5.0}}}, id="a total timeout"),
    ],
)
async def test_other_queued_requests_send_themselves(
    serve: Callable[[Handler], int], kwargs: dict[str, typing.Any]
) -> None:
    """A request with a body, a traced one, and one whose wait cannot turn into its wait
    for a response (the pool and read timeouts not both set, or a total one) are woken
    to send their request as before, and are answered the same."""
    server = HTTPServer(serve, lambda *_: OK)
    async with await _pool() as pool:
        second = await _second_while_first_streams(pool, server.url(), "POST", **kwargs)
        # Handed over, but nothing sent: it is the second task's to send.
        assert "IDLE, Request Count: 1" in second.handed
        assert second.got == [b"ok"]
        assert second.suspensions >= 2
        assert len(server.heads) == 2


async def test_the_read_timeout_bounds_a_request_sent_ahead(
    serve: Callable[[Handler], int],
) -> None:
    """Once sent ahead, the request waits for its response under its read timeout (not
    the pool's); when that runs out it fails as any response that does not come, and
    its connection leaves the pool."""
    answer = threading.Event()
    server = HTTPServer(serve, lambda n, i, head: OK if i == 0 or answer.wait(10) else None)
    timeouts = {"pool": 5.0, "read": 0.2}
    try:
        async with await _pool() as pool:
            second = await _second_while_first_streams(
                pool, server.url(), extensions={"timeout": timeouts}
            )
            assert SENT_AHEAD in second.handed
            assert [type(error) for error in second.got] == [ReadTimeout]
            assert len(server.heads) == 2
            assert "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle" in repr(pool)
    finally:
        answer.set()


async def test_the_pool_timeout_ends_when_the_request_is_sent_ahead(
    serve: Callable[[Handler], int],
) -> None:
    """A response slower than the pool timeout is still read: the request got its
    connection, and from then on only the read timeout counts."""

    def replies(number: int, index: int, head: bytes) -> bytes:
        if index == 1:
            # Deliberately slower than the second request's pool timeout (0.1 s).
            threading.Event().wait(0.4)
        return OK

    server = HTTPServer(serve, replies)
    timeouts = {"pool": 0.1, "read": 5.0}
    async with await _pool() as pool:
        second = await _second_while_first_streams(
            pool, server.url(), extensions={"timeout": timeouts}
        )
        assert SENT_AHEAD in second.handed
        assert second.got == [b"ok"]
        assert second.suspensions == 1


async def test_cancelling_a_request_sent_ahead_drops_its_connection(
    serve: Callable[[Handler], int],
) -> None:
    """Its request is out and its response would come on that connection: it cannot go
    back to the pool, so it is closed, and the next request opens another."""
    hang_up = threading.Event()

    def replies(number: int, index: int, head: bytes) -> bytes | None:
        if number == 0 and index == 1:
            hang_up.wait(10)  # (the second request is never answered)
            return None
        return OK

    server = HTTPServer(serve, replies)
    async with await _pool() as pool:
        cancelled = False
        async with anyio.create_task_group() as tg:

            async def second() -> None:
                nonlocal cancelled
                try:
                    await pool.request("GET", server.url())
                except anyio.get_cancelled_exc_class():
                    cancelled = True
                    raise

            async with pool.stream("GET", server.url()) as first:
                tg.start_soon(second)
                await _until_queued(pool)
                await first.aread()
            # The second request is out with no turn of its task.
            assert SENT_AHEAD in repr(pool.connections[0])
            await anyio.to_thread.run_sync(server.got[1].wait, 10)
            tg.cancel_scope.cancel()
        hang_up.set()
        assert cancelled
        assert "Requests: 0 active, 0 queued | Connections: 0 active, 0 idle" in repr(pool)
        response = await pool.request("GET", server.url())
        assert response.content == b"ok"
        assert server.connections == 2


async def test_a_connection_closed_instead_of_answering_is_retried(
    serve: Callable[[Handler], int],
) -> None:
    """A server that closes the connection when the request sent ahead arrives (it had
    just timed the connection out) gets the request again, on a new connection."""
    server = HTTPServer(serve, lambda n, i, head: None if n == 0 and i == 1 else OK)
    async with await _pool() as pool:
        second = await _second_while_first_streams(pool, server.url())
        assert SENT_AHEAD in second.handed
        assert second.got == [b"ok"]
        assert server.connections == 2
        assert len(server.heads) == 3


# -- the stream's part ------------------------------------------------------------


async def _stream(port: int) -> typing.Any:
    from netbackend_anyio import AnyIOBackend, AsyncioStream

    stream = await AnyIOBackend().connect_tcp("127.0.0.1", port, timeout=5)
    assert isinstance(stream, AsyncioStream)
    return stream


def _echo_upper(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data.upper())


def _close_on_data(conn: socket.socket) -> None:
    conn.recv(65536)


async def test_the_stream_writes_at_once_and_wakes_the_future_with_the_answer(
    serve: Callable[[Handler], int],
) -> None:
    stream = await _stream(serve(_echo_upper))
    try:
        waiter = anyio_future()
        assert stream.send_ahead(b"ping", waiter)
        assert await waiter is None
        assert await stream.read(10, timeout=5) == b"PING"
        # Woken once: the next answer is left for an ordinary read.
        await stream.write(b"again")
        assert await stream.read(10, timeout=5) == b"AGAIN"
    finally:
        await stream.aclose()


async def test_the_stream_wakes_the_future_at_eof(serve: Callable[[Handler], int]) -> None:
    stream = await _stream(serve(_close_on_data))
    try:
        waiter = anyio_future()
        assert stream.send_ahead(b"bye", waiter)
        assert await waiter is None
        assert await stream.read(10, timeout=5) == b""
        assert not stream.send_ahead(b"more", anyio_future())
    finally:
        await stream.aclose()


async def test_closing_the_stream_wakes_the_future(serve: Callable[[Handler], int]) -> None:
    stream = await _stream(serve(_close_on_data))
    waiter = anyio_future()
    try:
        assert stream.send_ahead(b"x", waiter)
    finally:
        await stream.aclose()
    assert waiter.done()
    assert waiter.result() is None
    assert not stream.send_ahead(b"y", anyio_future())


async def test_the_stream_refuses_when_it_cannot_write_and_wait_at_once(
    serve: Callable[[Handler], int],
) -> None:
    """Unread data, a read waiting, or another waiter registered: nothing is written."""
    stream = await _stream(serve(_echo_upper))
    try:
        await stream.write(b"unread")
        while stream._protocol._start == stream._protocol._end:  # (until it is buffered)
            await anyio.sleep(0)
        assert not stream.send_ahead(b"x", anyio_future())
        assert await stream.read(10, timeout=5) == b"UNREAD"

        first = anyio_future()
        assert stream.send_ahead(b"one", first)
        assert not stream.send_ahead(b"two", anyio_future())
        await first
        assert await stream.read(10, timeout=5) == b"ONE"

        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.read, 10, 5)
            while stream._protocol._waiter is None:  # (until the read waits)
                await anyio.sleep(0)
            assert not stream.send_ahead(b"three", anyio_future())
            await stream.write(b"four")
        assert not stream.get_extra_info("is_readable")
    finally:
        await stream.aclose()


def anyio_future() -> typing.Any:
    import asyncio

    return asyncio.get_running_loop().create_future()
