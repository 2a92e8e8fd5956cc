"""The async mock stream and backend, for asyncio and trio alike."""

from __future__ import annotations

import socket
import typing

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    async_sleep,
    resolve_in_thread,
)

from ._common import _DEFAULT_SERVER_ADDR, _FIRST_CLIENT_PORT, _BackendCore, _StreamCore

if typing.TYPE_CHECKING:
    import ssl

__all__ = (
    "AsyncMockBackend",
    "AsyncMockStream",
)


class AsyncMockStream(_StreamCore, AsyncNetworkStream):
    """The async twin of :class:`~netbackend_mock.MockStream`; the same script and records.

    Reads, writes and ``start_tls`` complete without yielding to the event loop, so a
    script plays out deterministically.

    Args:
        buffer: The chunks the "server" sends, in order (consumed in place).
        http2: Report ``"h2"`` as the ALPN choice of ``get_extra_info("ssl_object")``.
        client_addr: What ``get_extra_info("client_addr")`` returns.
        server_addr: What ``get_extra_info("server_addr")`` returns.
    """

    def __init__(
        self,
        buffer: list[bytes],
        http2: bool = False,
        *,
        client_addr: typing.Any = ("127.0.0.1", _FIRST_CLIENT_PORT),
        server_addr: typing.Any = _DEFAULT_SERVER_ADDR,
    ) -> None:
        super().__init__(buffer, http2, client_addr, server_addr)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return the next chunk of the script, at most ``max_bytes`` of it.

        Raises:
            ReadError: The stream was closed.
            ValueError: ``max_bytes`` is below 1.
        """
        return self._read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Append ``buffer`` to :attr:`written` (empty buffers are not recorded).

        Raises:
            WriteError: The stream was closed.
        """
        self._write(buffer)

    async def aclose(self) -> None:
        """Mark the stream closed; later reads and writes fail."""
        self._close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Record the call in :attr:`tls_calls` and return this same stream.

        Raises:
            ConnectError: The stream was closed.
        """
        self._start_tls(ssl_context, server_hostname, timeout)
        return self


class AsyncMockBackend(_BackendCore, AsyncNetworkBackend):
    """The async twin of :class:`~netbackend_mock.MockBackend`.

    Args:
        buffer: The chunks each connection's "server" sends, in order.
        http2: Make streams report ``"h2"`` as the ALPN choice.
        shared: Let all connections consume the same list (``buffer`` itself).
    """

    def __init__(self, buffer: list[bytes], http2: bool = False, *, shared: bool = False) -> None:
        super().__init__(buffer, http2, shared)
        self.streams: list[AsyncMockStream] = []
        """Every stream opened, in order."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncMockStream:
        """Record the arguments in :attr:`connect_calls` and return a new stream."""
        client, server = self._record_tcp(host, port, timeout, local_address, socket_options)
        return self._open(client, server)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncMockStream:
        """Record the arguments in :attr:`connect_calls` and return a new stream."""
        client, server = self._record_unix(path, timeout, socket_options)
        return self._open(client, server)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """Resolve ``host`` for real, as the interface's default does (not mocked).

        Unlike the default, it waits for the lookup thread with real sleeps rather than
        :meth:`sleep`, which never waits (the poll would spin) and whose record
        (:attr:`sleeps`) is kept for the code under test.
        """
        return await resolve_in_thread(host, family, timeout, async_sleep)

    async def sleep(self, seconds: float) -> None:
        """Record ``seconds`` in :attr:`sleeps` and yield to the event loop once."""
        self.sleeps.append(seconds)
        await async_sleep(0)

    def _open(self, client: typing.Any, server: typing.Any) -> AsyncMockStream:
        stream = AsyncMockStream(
            self._script(), self._http2, client_addr=client, server_addr=server
        )
        self.streams.append(stream)
        return stream
