"""The async recording and replay backends (asyncio and trio): I/O plumbing only.

The twin of :mod:`netbackend_mock._record_sync`, line for line; what gets recorded is
decided in :mod:`netbackend_mock._record_logic`, and how a cassette replays in
:mod:`netbackend_mock._replay_logic`.
"""

from __future__ import annotations

import socket
import typing

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    async_sleep,
)

from ._cassette import Cassette
from ._record_logic import ConnectionRecorder, RecorderCore
from ._replay_logic import (
    DEFAULT_WAIT_LIMIT,
    WAIT,
    ReplayConnectionLogic,
    ReplayCore,
    ReplaySSLObject,
    wait_pauses,
)

if typing.TYPE_CHECKING:
    import ssl

__all__ = (
    "AsyncRecordingBackend",
    "AsyncRecordingStream",
    "AsyncReplayBackend",
    "AsyncReplayStream",
)


class AsyncRecordingStream(AsyncNetworkStream):
    """A stream of an :class:`AsyncRecordingBackend`: the inner stream, recorded."""

    def __init__(self, inner: AsyncNetworkStream, recorder: ConnectionRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    @property
    def inner(self) -> AsyncNetworkStream:
        """The wrapped stream."""
        return self._inner

    @property
    def connection(self) -> int:
        """The connection's number (from 1) in the cassette."""
        return self._recorder.number

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            data = await self._inner.read(max_bytes, timeout)
        except Exception as exc:
            self._recorder.read_failed(exc)
            raise
        self._recorder.read(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._recorder.writing(buffer)
        try:
            await self._inner.write(buffer, timeout)
        except Exception as exc:
            self._recorder.write_failed(exc)
            raise

    async def aclose(self) -> None:
        self._recorder.closed()
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        try:
            inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except Exception as exc:
            self._recorder.tls_failed(server_hostname, exc)
            raise
        self._recorder.started_tls(server_hostname, inner.get_extra_info("ssl_object"))
        return AsyncRecordingStream(inner, self._recorder)

    def get_extra_info(self, info: str) -> typing.Any:
        """The inner stream's; ``is_readable`` answers are recorded too."""
        value = self._inner.get_extra_info(info)
        if info == "is_readable":
            self._recorder.is_readable(bool(value))
        return value

    def __repr__(self) -> str:
        return f"<AsyncRecordingStream connection={self.connection} over {self._inner!r}>"


class AsyncRecordingBackend(AsyncNetworkBackend):
    """The async twin of :class:`~netbackend_mock.RecordingBackend`.

    Args:
        inner: The backend to record (a real one, usually).
        cassette: Where to record; connections are appended to it.
    """

    def __init__(self, inner: AsyncNetworkBackend, cassette: Cassette) -> None:
        self._inner = inner
        self._core = RecorderCore(cassette)

    @property
    def inner(self) -> AsyncNetworkBackend:
        """The wrapped backend."""
        return self._inner

    @property
    def cassette(self) -> Cassette:
        """The cassette being recorded into."""
        return self._core.cassette

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncRecordingStream:
        recorder, options = self._core.begin_tcp(host, port, local_address, socket_options)
        try:
            inner = await self._inner.connect_tcp(host, port, timeout, local_address, options)
        except Exception as exc:
            self._core.connect_failed(recorder, exc)
            raise
        return self._opened(inner, recorder)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncRecordingStream:
        recorder, options = self._core.begin_unix(path, socket_options)
        try:
            inner = await self._inner.connect_unix_socket(path, timeout, options)
        except Exception as exc:
            self._core.connect_failed(recorder, exc)
            raise
        return self._opened(inner, recorder)

    def _opened(
        self, inner: AsyncNetworkStream, recorder: ConnectionRecorder
    ) -> AsyncRecordingStream:
        client_addr = inner.get_extra_info("client_addr")
        self._core.connected(recorder, client_addr, inner.get_extra_info("server_addr"))
        return AsyncRecordingStream(inner, recorder)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """The inner backend's ``resolve``, recorded."""
        try:
            addresses = await self._inner.resolve(host, family, timeout)
        except Exception as exc:
            self._core.resolve_failed(host, family, exc)
            raise
        self._core.resolved(host, family, addresses)
        return addresses

    async def sleep(self, seconds: float) -> None:
        """The inner backend's ``sleep`` (not recorded)."""
        await self._inner.sleep(seconds)


class AsyncReplayStream(AsyncNetworkStream):
    """A stream of an :class:`AsyncReplayBackend`: plays one recorded connection."""

    def __init__(self, logic: ReplayConnectionLogic, wait_limit: float) -> None:
        self._logic = logic
        self._wait_limit = wait_limit

    @property
    def connection(self) -> int:
        """The connection's number (from 1) in the order the replay opened them."""
        return self._logic.number

    @property
    def recorded_connection(self) -> int:
        """The number of the cassette's connection this one replays."""
        return self._logic.recorded_number

    @property
    def closed(self) -> bool:
        return self._logic.closed

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """The next recorded server bytes, up to ``max_bytes``.

        Raises:
            ReplayMismatch: Nothing more was recorded here, or the read waited in vain
                for client bytes the recorded reply came after.
        """
        result = self._logic.read(max_bytes)
        if result is not WAIT:
            return typing.cast(bytes, result)
        waited = 0.0
        for pause in wait_pauses(timeout, self._wait_limit):
            await async_sleep(pause)
            waited += pause
            result = self._logic.read(max_bytes)
            if result is not WAIT:
                return typing.cast(bytes, result)
        raise self._logic.wait_failed(waited)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Compare ``buffer`` with the recorded client bytes at this point.

        Raises:
            ReplayMismatch: The bytes differ from, or go past, the recorded ones.
        """
        self._logic.write(buffer)

    async def aclose(self) -> None:
        self._logic.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Move on to the recorded handshake; ``ssl_context`` is not used.

        Raises:
            ReplayMismatch: No handshake was recorded here, or for another host.
        """
        self._logic.start_tls(server_hostname)
        return AsyncReplayStream(self._logic, self._wait_limit)

    def get_extra_info(self, info: str) -> typing.Any:
        """Recorded answers: ``ssl_object`` (a :class:`ReplaySSLObject` after
        ``start_tls``, else ``None``), ``client_addr``, ``server_addr``,
        ``is_readable``; ``None`` for anything else."""
        if info == "ssl_object":
            tls = self._logic.tls
            return None if tls is None else ReplaySSLObject(tls)
        if info == "is_readable":
            return self._logic.is_readable()
        if info == "client_addr":
            return self._logic.record.client_addr
        if info == "server_addr":
            return self._logic.record.server_addr
        return None

    def __repr__(self) -> str:
        return f"<AsyncReplayStream connection={self.connection} ({self._logic.record.describe()})>"


class AsyncReplayBackend(AsyncNetworkBackend):
    """The async twin of :class:`~netbackend_mock.ReplayBackend`, for asyncio and trio.

    Args:
        cassette: What to replay.
        strict: Raise :class:`~netbackend_mock.ReplayMismatch` from ``aclose()`` when a
            connection closes with recorded traffic left unplayed.
        wait_limit: How long (at most) a read waits for client bytes that its recorded
            reply came after, before a mismatch.
    """

    def __init__(
        self, cassette: Cassette, *, strict: bool = False, wait_limit: float = DEFAULT_WAIT_LIMIT
    ) -> None:
        self._core = ReplayCore(cassette, strict, wait_limit)
        self.streams: list[AsyncReplayStream] = []
        """Every stream opened, in order."""

    @property
    def cassette(self) -> Cassette:
        """The cassette being replayed."""
        return self._core.cassette

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncReplayStream:
        """Replay the first unused recorded connection to ``host``:``port``.

        Raises:
            ReplayMismatch: No connection to there is left in the cassette.
            ConnectError, ConnectTimeout: The recorded connect failed so.
        """
        return self._opened(self._core.open("tcp", host, port, None))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncReplayStream:
        """The same as :meth:`connect_tcp`, for a Unix socket."""
        return self._opened(self._core.open("unix", None, None, path))

    def _opened(self, logic: ReplayConnectionLogic) -> AsyncReplayStream:
        stream = AsyncReplayStream(logic, self._core.wait_limit)
        self.streams.append(stream)
        return stream

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """The recorded answer (no lookup happens).

        Raises:
            ReplayMismatch: The cassette holds no lookup of ``host`` for ``family``.
        """
        return self._core.resolve(host, family)

    async def sleep(self, seconds: float) -> None:
        """Sleep for real, on whichever event loop runs."""
        await async_sleep(seconds)

    def unplayed(self) -> list[str]:
        """One line per recorded connection not replayed in full (empty when all were)."""
        return self._core.unplayed()

    def assert_all_played(self) -> None:
        """Raise :class:`~netbackend_mock.ReplayMismatch` if anything recorded was not
        replayed: connections never opened, client bytes not written, server bytes not
        read, handshakes not done."""
        self._core.assert_all_played()
