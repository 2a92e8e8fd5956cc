"""The blocking mock stream and backend."""

from __future__ import annotations

import typing

from netbackend_base import SOCKET_OPTION, NetworkBackend, NetworkStream

from ._common import _DEFAULT_SERVER_ADDR, _FIRST_CLIENT_PORT, _BackendCore, _StreamCore

if typing.TYPE_CHECKING:
    import ssl

__all__ = (
    "MockBackend",
    "MockStream",
)


class MockStream(_StreamCore, NetworkStream):
    """A stream whose reads replay a script of byte chunks and whose writes are recorded.

    Each ``read`` takes the next chunk off the front of ``buffer`` (the list passed in
    is consumed in place); a chunk longer than ``max_bytes`` is split and its rest left
    for the next read. Once the list is empty, reads return ``b""`` (EOF). An empty chunk
    in the script reads as an early EOF.

    Args:
        buffer: The chunks the "server" sends, in order.
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

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return the next chunk of the script, at most ``max_bytes`` of it.

        Raises:
            ReadError: The stream was closed.
            ValueError: ``max_bytes`` is below 1.
        """
        return self._read(max_bytes)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Append ``buffer`` to :attr:`written` (empty buffers are not recorded).

        Raises:
            WriteError: The stream was closed.
        """
        self._write(buffer)

    def close(self) -> None:
        """Mark the stream closed; later reads and writes fail."""
        self._close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Record the call in :attr:`tls_calls` and return this same stream.

        Raises:
            ConnectError: The stream was closed.
        """
        self._start_tls(ssl_context, server_hostname, timeout)
        return self


class MockBackend(_BackendCore, NetworkBackend):
    """A backend whose connections replay ``buffer`` instead of touching the network.

    As in httpcore, every connection gets its own copy of the script, so each one
    reads it from the start. With ``shared=True`` all connections read from the one
    list instead: what one connection consumed, the next one no longer sees.

    ``resolve`` is not mocked: it is the interface's default, a real lookup through
    ``socket.getaddrinfo`` (IP literals answer without one).

    Args:
        buffer: The chunks each connection's "server" sends, in order.
        http2: Make streams report ``"h2"`` as the ALPN choice.
        shared: Let all connections consume the same list (``buffer`` itself).
    """

    def __init__(self, buffer: list[bytes], http2: bool = False, *, shared: bool = False) -> None:
        super().__init__(buffer, http2, shared)
        self.streams: list[MockStream] = []
        """Every stream opened, in order."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> MockStream:
        """Record the arguments in :attr:`connect_calls` and return a new stream."""
        client, server = self._record_tcp(host, port, timeout, local_address, socket_options)
        return self._open(client, server)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> MockStream:
        """Record the arguments in :attr:`connect_calls` and return a new stream."""
        client, server = self._record_unix(path, timeout, socket_options)
        return self._open(client, server)

    def sleep(self, seconds: float) -> None:
        """Record ``seconds`` in :attr:`sleeps` and return at once."""
        self.sleeps.append(seconds)

    def _open(self, client: typing.Any, server: typing.Any) -> MockStream:
        stream = MockStream(self._script(), self._http2, client_addr=client, server_addr=server)
        self.streams.append(stream)
        return stream
