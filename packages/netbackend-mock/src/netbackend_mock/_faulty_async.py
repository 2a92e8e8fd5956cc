"""The async fault-injecting backend and stream (asyncio and trio): I/O only.

The twin of :mod:`netbackend_mock._faulty_sync`, line for line; the decisions are in
:mod:`netbackend_mock._fault_logic`.
"""

from __future__ import annotations

import socket
import typing
from collections.abc import Awaitable, Callable

from netbackend_base import SOCKET_OPTION, AsyncNetworkBackend, AsyncNetworkStream, async_sleep

from ._fault_logic import BackendCore, ConnectionLogic, Step
from ._fault_plan import ConnectionFaults, FaultEvent, Faults

if typing.TYPE_CHECKING:
    import ssl

__all__ = (
    "AsyncFaultyBackend",
    "AsyncFaultyStream",
)

AsyncSleep = Callable[[float], Awaitable[None]]


class AsyncFaultyStream(AsyncNetworkStream):
    """The async twin of :class:`~netbackend_mock.FaultyStream`.

    An :class:`AsyncFaultyBackend` opens these; build one directly to put faults under
    code that takes a stream (with ``connection`` 1, its own events and ``sleep``).
    Cancelling a call (a stall or a latency included) propagates the event loop's
    cancellation unchanged, and leaves the stream usable only for ``aclose()``.

    Args:
        inner: The stream to wrap; this stream owns it.
        faults: What to inject.
        sleep: What latencies and stalls wait with.
        stall_limit: See :attr:`Faults.stall_limit`.
    """

    def __init__(
        self,
        inner: AsyncNetworkStream,
        faults: ConnectionFaults | None = None,
        *,
        sleep: AsyncSleep = async_sleep,
        stall_limit: float = 10.0,
    ) -> None:
        faults = ConnectionFaults() if faults is None else faults
        logic = ConnectionLogic(1, faults, stall_limit=stall_limit)
        self._inner, self._logic, self._sleep = inner, logic, sleep

    @classmethod
    def _over(
        cls, inner: AsyncNetworkStream, logic: ConnectionLogic, sleep: AsyncSleep
    ) -> AsyncFaultyStream:
        self = cls.__new__(cls)
        self._inner, self._logic, self._sleep = inner, logic, sleep
        return self

    @property
    def inner(self) -> AsyncNetworkStream:
        """The wrapped stream."""
        return self._inner

    @property
    def connection(self) -> int:
        """The connection's number (from 1) on its backend."""
        return self._logic.number

    @property
    def faults(self) -> ConnectionFaults:
        """The faults of this connection."""
        return self._logic.faults

    @property
    def events(self) -> list[FaultEvent]:
        """The faults injected on this connection so far, in order."""
        return self._logic.events

    @property
    def bytes_read(self) -> int:
        """Bytes read through this connection so far (plaintext after ``start_tls``)."""
        return self._logic.bytes_read

    @property
    def bytes_written(self) -> int:
        """Bytes passed on to the inner stream so far."""
        return self._logic.bytes_written

    @property
    def closed(self) -> bool:
        """Whether this stream (or one ``start_tls`` made of it) was closed."""
        return self._logic.closed

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read from the inner stream, with this connection's read faults.

        Raises:
            ReadError: The connection was reset, or closed during a stall.
            ReadTimeout: Latency reached ``timeout``, or a stall outlasted it.
            StallLimitExceeded: A stall with no timeout outlasted the stall limit.
        """
        step = self._logic.plan_read(max_bytes, timeout)
        if step.delay > 0:
            await self._sleep(step.delay)
        if step.fault is not None:
            await self._fail(step)
        data = await self._inner.read(step.size, step.timeout)
        self._logic.did_read(len(data))
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write to the inner stream, with this connection's write faults.

        Raises:
            WriteError: The connection was reset, or closed during a stall.
            WriteTimeout: Latency reached ``timeout``, or a stall outlasted it.
            StallLimitExceeded: A stall with no timeout outlasted the stall limit.
        """
        step = self._logic.plan_write(len(buffer), timeout)
        if step.delay > 0:
            await self._sleep(step.delay)
        for start, end in step.pieces:
            await self._inner.write(buffer[start:end], step.timeout)
            self._logic.did_write(end - start)
        if step.fault is not None:
            await self._fail(step)

    async def aclose(self) -> None:
        """Close the inner stream; a stall in another task ends with an error."""
        self._logic.close()
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Start TLS on the inner stream and wrap the result with the same connection.

        Byte counts carry on across the handshake (counting plaintext from then on).

        Raises:
            ConnectError: An injected TLS failure (this stream is closed) or the inner
                stream's own.
        """
        step = self._logic.plan_tls(timeout)
        if step.fault is not None:
            await self.aclose()
            await self._fail(step)
        try:
            inner = await self._inner.start_tls(ssl_context, server_hostname, step.timeout)
        except BaseException:
            self._logic.close()  # the inner stream closed itself, by contract
            raise
        return AsyncFaultyStream._over(inner, self._logic, self._sleep)

    def get_extra_info(self, info: str) -> typing.Any:
        """The inner stream's, except that a reset connection is always readable."""
        if info == "is_readable" and self._logic.reset:
            return True
        return self._inner.get_extra_info(info)

    async def _fail(self, step: Step) -> typing.NoReturn:
        if step.fault == "stall":
            for pause in self._logic.stall_pauses(step.timeout):
                if self._logic.closed:
                    break
                await self._sleep(pause)
        raise self._logic.failure(step)

    def __repr__(self) -> str:
        return f"<AsyncFaultyStream connection={self.connection} over {self._inner!r}>"


class AsyncFaultyBackend(BackendCore, AsyncNetworkBackend):
    """The async twin of :class:`~netbackend_mock.FaultyBackend`, for asyncio and trio.

    Latencies and stalls wait with the wrapped backend's own ``sleep``, so they run on
    whichever event loop that backend runs on (and are instant over an
    :class:`~netbackend_mock.AsyncMockBackend`, which records them).

    Args:
        inner: The backend to wrap.
        plan: The faults; ``None`` injects nothing.
    """

    def __init__(self, inner: AsyncNetworkBackend, plan: Faults | None = None) -> None:
        super().__init__(plan)
        self._inner = inner
        self.streams: list[AsyncFaultyStream] = []
        """Every stream opened, in order (refused and timed-out attempts have none)."""

    @property
    def inner(self) -> AsyncNetworkBackend:
        """The wrapped backend."""
        return self._inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncFaultyStream:
        """Connect through the inner backend as the plan says for the next connection.

        Raises:
            ConnectError: The plan refuses this connection, or the inner backend's own.
            ConnectTimeout: Connect latency reached ``timeout``, or the inner backend's.
        """
        logic = self._next_connection()
        step = await self._before_connect(logic, timeout)
        inner = await self._inner.connect_tcp(
            host, port, step.timeout, local_address, socket_options
        )
        return self._opened(inner, logic)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncFaultyStream:
        """The same as :meth:`connect_tcp`, for a Unix socket."""
        logic = self._next_connection()
        step = await self._before_connect(logic, timeout)
        inner = await self._inner.connect_unix_socket(path, step.timeout, socket_options)
        return self._opened(inner, logic)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """The inner backend's ``resolve``, without faults."""
        return await self._inner.resolve(host, family, timeout)

    async def sleep(self, seconds: float) -> None:
        """The inner backend's ``sleep``."""
        await self._inner.sleep(seconds)

    async def _before_connect(self, logic: ConnectionLogic, timeout: float | None) -> Step:
        step = logic.plan_connect(timeout)
        if step.delay > 0:
            await self._inner.sleep(step.delay)
        if step.fault is not None:
            raise logic.failure(step)
        return step

    def _opened(self, inner: AsyncNetworkStream, logic: ConnectionLogic) -> AsyncFaultyStream:
        stream = AsyncFaultyStream._over(inner, logic, self._inner.sleep)
        self.streams.append(stream)
        return stream
