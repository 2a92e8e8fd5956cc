"""The network-backend interface: streams and the backends that open them.

The same four classes, with the same method names and signatures, as httpcore 1.0's
backend interface, so a backend (or a wrapper around one, such as a recorder) written
for httpcore works here once its imports change.

Contract shared by every method below:

* Errors: only the exceptions of :mod:`netbackend_base` escape (``ConnectError``,
  ``ReadError``, ``WriteError`` and the matching ``*Timeout``). A backend maps its
  library's errors at the boundary.
* Timeouts: ``timeout`` is in seconds; ``None`` waits for ever. A timeout raises the
  matching ``*Timeout``. After a read or write timeout the stream is in an unknown state
  (part of a buffer may have been sent) and the caller should close it.
* Cancellation (async only): cancelling a call propagates the event loop's own
  cancellation exception unchanged. A cancelled ``connect_*`` leaves no socket open; a
  cancelled read or write leaves the stream usable only for ``aclose()``.
"""

from __future__ import annotations

import time
import typing

__all__ = (
    "SOCKET_OPTION",
    "AsyncNetworkBackend",
    "AsyncNetworkStream",
    "NetworkBackend",
    "NetworkStream",
)

if typing.TYPE_CHECKING:
    import ssl

SOCKET_OPTION = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)
"""A socket option as passed to ``socket.setsockopt``: ``(level, name, value)``, or
``(level, name, None, optlen)``."""


class NetworkStream:
    """A connected, bidirectional byte stream (TCP, Unix socket, or TLS over either).

    ``get_extra_info`` keys every backend supports:

    * ``"ssl_object"``: the ``ssl.SSLObject``/``ssl.SSLSocket`` of the outermost TLS
      layer, or ``None`` on a plain stream. Its ``selected_alpn_protocol()`` tells what
      the server chose.
    * ``"client_addr"``: the local ``(host, port)`` (a path string for Unix sockets).
    * ``"server_addr"``: the peer's ``(host, port)`` (a path string for Unix sockets).
    * ``"socket"``: the underlying ``socket.socket``, for inspection only.
    * ``"is_readable"``: ``True`` when a read would not block: data is waiting, or the
      peer has closed. A pool uses it to spot idle connections that the server dropped.

    Any other key returns ``None``.
    """

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; block until at least one arrives.

        Returns:
            The bytes read, or ``b""`` once the peer has closed its side (EOF).

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or the TLS layer failed.
        """
        raise NotImplementedError()  # pragma: no cover

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer``; return once the last byte is handed to the OS.

        An empty buffer is a no-op.

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke or the TLS layer failed.
        """
        raise NotImplementedError()  # pragma: no cover

    def close(self) -> None:
        """Close the stream and release its socket.

        Never raises; closing twice is harmless. A TLS stream does not wait for the
        peer's close_notify.
        """
        raise NotImplementedError()  # pragma: no cover

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run a TLS client handshake over this stream and return the TLS stream.

        Works on a stream that is already TLS (TLS-in-TLS, for HTTPS proxies). The
        returned stream owns this one: closing it closes both. On failure this stream is
        closed too.

        Args:
            ssl_context: Its verification settings are used as they are; the backend
                never changes the context.
            server_hostname: Sent as SNI and checked against the certificate when the
                context checks hostnames.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (bad certificate, wrong hostname, the
                peer closed).
        """
        raise NotImplementedError()  # pragma: no cover

    def get_extra_info(self, info: str) -> typing.Any:
        """Return transport details by key (see the class docstring), or ``None``."""
        return None


class NetworkBackend:
    """Opens network streams for blocking code."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        """Open a TCP connection.

        A host name that resolves to several addresses is connected with Happy
        Eyeballs where the backend supports it. ``TCP_NODELAY`` is on.

        Args:
            local_address: The local IP to bind to before connecting.
            socket_options: Applied before ``connect()``.
            timeout: Covers name resolution and the whole connection attempt.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: Resolution failed, or every address refused or was unreachable.
        """
        raise NotImplementedError()  # pragma: no cover

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        """Open a Unix domain socket connection to ``path``.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: No such socket, or the connection was refused.
        """
        raise NotImplementedError()  # pragma: no cover

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        time.sleep(seconds)


class AsyncNetworkStream:
    """The async twin of :class:`NetworkStream`; the same contract and extra-info keys.

    Cancellation propagates as the event loop's own exception. After a cancelled
    ``read`` or ``write`` only ``aclose()`` is safe.
    """

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or the TLS layer failed.
        """
        raise NotImplementedError()  # pragma: no cover

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer``.

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke or the TLS layer failed.
        """
        raise NotImplementedError()  # pragma: no cover

    async def aclose(self) -> None:
        """Close the stream and release its socket.

        Never raises; closing twice is harmless. The socket is released even when the
        call is cancelled.
        """
        raise NotImplementedError()  # pragma: no cover

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Run a TLS client handshake over this stream (TLS-in-TLS included).

        The returned stream owns this one. On failure or cancellation this stream is
        closed too.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed.
        """
        raise NotImplementedError()  # pragma: no cover

    def get_extra_info(self, info: str) -> typing.Any:
        """Return transport details by key (see :class:`NetworkStream`), or ``None``."""
        return None


class AsyncNetworkBackend:
    """Opens network streams for async code; the same contract as :class:`NetworkBackend`.

    A cancelled connect closes every socket it had opened before the cancellation
    propagates.
    """

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Open a TCP connection (Happy Eyeballs, ``TCP_NODELAY`` on).

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: Resolution failed, or every address refused or was unreachable.
        """
        raise NotImplementedError()  # pragma: no cover

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Open a Unix domain socket connection to ``path``.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: No such socket, or the connection was refused.
        """
        raise NotImplementedError()  # pragma: no cover

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking the event loop (asyncio or trio)."""
        from ._concurrency import async_sleep

        await async_sleep(seconds)
