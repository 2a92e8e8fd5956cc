"""The network-backend interface: streams and the backends that open them.

The same four classes, with the same method names and signatures, as httpcore 1.0's
backend interface, so a backend (or a wrapper around one, such as a recorder) written
for httpcore works here once its imports change. The backends' ``resolve`` is this
package's addition; it has a default, so such a backend keeps working without it.

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

import socket
import time
import typing

from ._concurrency import async_sleep
from ._resolve import resolve_blocking, resolve_in_thread

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

    def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """Resolve a host name to its IP addresses.

        Optional: the default blocks on ``socket.getaddrinfo``; backends with a resolver
        of their own override it. An IP literal (IPv4, or IPv6 without brackets) is
        returned as ``[host]`` without a lookup. A name is IDNA-encoded as
        ``socket.getaddrinfo`` encodes it, then looked up for stream sockets.

        Args:
            host: The host name or IP literal.
            family: ``socket.AF_UNSPEC`` (0) for any, or ``socket.AF_INET`` /
                ``socket.AF_INET6`` for that family only.
            timeout: ``None`` waits for the resolver however long it takes, in the
                calling thread. Otherwise the default runs the lookup on a daemon thread
                and stops waiting after ``timeout`` seconds, as
                ``netbackend_sync.SyncBackend.connect_tcp`` does for its own lookup:
                ``getaddrinfo`` cannot be interrupted, so the thread is left to finish
                and its late answer is dropped.

        Returns:
            The addresses as ``socket.getaddrinfo`` gives them (``"127.0.0.1"``,
            ``"::1"``), in the resolver's order of preference, without duplicates.
            Never empty.

        Raises:
            ConnectTimeout: No answer within ``timeout``.
            ConnectError: The name does not resolve (to an address of ``family``), or
                cannot be encoded (an empty label or one over 63 characters), or is an
                IP literal outside ``family``. The message names the host.
            ValueError: ``family`` is not one of the three above.
        """
        return resolve_blocking(host, family, timeout)

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

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """Resolve a host name to its IP addresses (see :meth:`NetworkBackend.resolve`).

        Optional: the default runs ``socket.getaddrinfo`` on a daemon thread and polls
        for its answer with this backend's own :meth:`sleep` (1 ms, doubling to at most
        50 ms), so it needs nothing else of the event loop. Backends with a native
        resolver override it. An IP literal is returned as ``[host]`` without a lookup.

        A timed-out or cancelled call stops waiting at once; a lookup thread is left to
        finish and its late answer is dropped.

        Returns:
            The distinct addresses of ``family``, in the resolver's order. Never empty.

        Raises:
            ConnectTimeout: No answer within ``timeout``.
            ConnectError: The name does not resolve (to an address of ``family``), or
                cannot be encoded, or is an IP literal outside ``family``. The message
                names the host.
            ValueError: ``family`` is not ``AF_UNSPEC``, ``AF_INET`` or ``AF_INET6``.
        """
        return await resolve_in_thread(host, family, timeout, self.sleep)

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking the event loop (asyncio or trio)."""
        await async_sleep(seconds)
