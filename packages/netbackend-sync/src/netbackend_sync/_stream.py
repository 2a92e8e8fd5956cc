"""Streams over blocking sockets, with TLS through ``ssl.SSLSocket`` or ``ssl.MemoryBIO``.

Theory of operation:

* :class:`SyncStream` holds one socket: plain TCP or Unix, or an ``ssl.SSLSocket`` after
  ``start_tls`` on a plain stream. ``read``/``write`` are one ``recv``/``sendall`` each; the
  socket's timeout is changed only when the caller's timeout differs from the last one
  (``settimeout`` is a syscall-free but measurable cost at thousands of calls a second).
  CPython's ``sendall`` and ``SSLSocket`` I/O apply the timeout to the whole call, which is
  the contract's "timeout across the whole write".
* ``start_tls`` on a plain socket wraps the socket itself (``SSLContext.wrap_socket``):
  OpenSSL then talks to the file descriptor directly, the fastest path. The wrapped socket
  takes over the descriptor, so the old stream's socket is left detached and closing it
  is a no-op.
* ``start_tls`` on a stream that is already TLS (TLS-in-TLS, for HTTPS proxies) cannot
  hand a descriptor to OpenSSL: :class:`SyncTLSStream` runs an ``ssl.SSLObject`` over two
  ``ssl.MemoryBIO`` buffers and moves the records through the outer stream's ``read`` and
  ``write``, under one deadline per call.
"""

from __future__ import annotations

import select
import socket
import ssl
import time
import typing

from netbackend_base import NetworkStream

from ._errors import HANDSHAKE_ERRORS, READ_ERRORS, WRITE_ERRORS, reraise

__all__ = ("SyncStream", "SyncTLSStream")

T = typing.TypeVar("T")

# How much ciphertext to pull from the outer stream per read in TLS-in-TLS.
_CHUNK = 65536


class SyncStream(NetworkStream):
    """A blocking socket stream: TCP, Unix, or TLS directly over either.

    Implements :class:`netbackend_base.NetworkStream`; its contract (errors, timeouts,
    extra-info keys) applies. Not thread-safe: one thread at a time per stream.
    """

    def __init__(self, sock: socket.socket) -> None:
        """Take ownership of a connected socket.

        Args:
            sock: A connected socket, or an ``ssl.SSLSocket`` whose handshake is done.
        """
        self._sock = sock
        self._timeout = sock.gettimeout()

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or the TLS layer failed.
        """
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            return self._sock.recv(max_bytes)
        except OSError:
            reraise(READ_ERRORS)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` within ``timeout``; an empty buffer is a no-op.

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke or the TLS layer failed.
        """
        if not buffer:
            return
        try:
            if timeout != self._timeout:
                self._set_timeout(timeout)
            self._sock.sendall(buffer)
        except OSError:
            reraise(WRITE_ERRORS)

    def close(self) -> None:
        """Close the socket. Never raises; closing twice is harmless."""
        try:
            self._sock.close()
        except OSError:
            pass

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run a TLS client handshake over this stream and return the TLS stream.

        Over a plain socket the result is a :class:`SyncStream` on an ``ssl.SSLSocket``;
        over TLS it is a :class:`SyncTLSStream`. Either owns this stream; on failure
        this stream is closed. ``ssl_context`` is used as it is (its ALPN protocols, its
        verification settings).

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (bad certificate, wrong hostname, the
                peer closed).
        """
        if isinstance(self._sock, ssl.SSLSocket):
            return SyncTLSStream.wrap(self, ssl_context, server_hostname, timeout)
        tls_sock: ssl.SSLSocket | None = None
        try:
            self._set_timeout(timeout)
            tls_sock = ssl_context.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
            tls_sock.do_handshake()
        except BaseException:
            if tls_sock is not None:
                tls_sock.close()
            self.close()
            reraise(HANDSHAKE_ERRORS)
        return SyncStream(tls_sock)

    def get_extra_info(self, info: str) -> typing.Any:
        """Return ``"ssl_object"``, ``"client_addr"``, ``"server_addr"``, ``"socket"`` or
        ``"is_readable"`` (see :class:`netbackend_base.NetworkStream`); else ``None``.

        ``"is_readable"`` is ``True`` on a closed stream too: a read would not block.
        """
        sock = self._sock
        if info == "is_readable":
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                return True
            return _readable_now(sock)
        if info == "ssl_object":
            return sock if isinstance(sock, ssl.SSLSocket) else None
        if info == "socket":
            return sock
        if info == "client_addr":
            return _address(sock.getsockname)
        if info == "server_addr":
            return _address(sock.getpeername)
        return None

    def _set_timeout(self, timeout: float | None) -> None:
        # A deadline that has passed gives a negative timeout, which settimeout rejects;
        # zero makes the socket non-blocking, and "would block" maps to a timeout.
        self._sock.settimeout(None if timeout is None else max(timeout, 0.0))
        self._timeout = timeout


class SyncTLSStream(NetworkStream):
    """TLS over another :class:`netbackend_base.NetworkStream` (TLS-in-TLS).

    Implements :class:`netbackend_base.NetworkStream`. The ciphertext travels through the
    inner stream's ``read``/``write``; each call's ``timeout`` bounds the whole call,
    however many inner reads and writes it takes. Closing it closes the inner stream
    without sending close_notify.
    """

    def __init__(
        self,
        stream: NetworkStream,
        ssl_object: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
    ) -> None:
        """Wrap ``stream``; use :meth:`wrap` to also run the handshake."""
        self._stream = stream
        self._ssl = ssl_object
        self._incoming = incoming
        self._outgoing = outgoing

    @classmethod
    def wrap(
        cls,
        stream: NetworkStream,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> SyncTLSStream:
        """Run a TLS client handshake over ``stream`` and return the TLS stream.

        On failure ``stream`` is closed.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed, or the inner stream broke.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            ssl_object = ssl_context.wrap_bio(
                incoming, outgoing, server_side=False, server_hostname=server_hostname
            )
            tls = cls(stream, ssl_object, incoming, outgoing)
            tls._pump(deadline, ssl_object.do_handshake)
        except BaseException:
            stream.close()
            reraise(HANDSHAKE_ERRORS)
        return tls

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` decrypted bytes; ``b""`` at EOF.

        A peer that closes without close_notify reads as EOF, as on ``ssl.SSLSocket``.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or the TLS layer failed.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return self._pump(deadline, self._ssl.read, max_bytes)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except OSError:
            reraise(READ_ERRORS)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Encrypt and send all of ``buffer``; an empty buffer is a no-op.

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke or the TLS layer failed.
        """
        if not buffer:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._pump(deadline, self._ssl.write, buffer)
        except OSError:
            reraise(WRITE_ERRORS)

    def close(self) -> None:
        """Close the inner stream. Never raises; closing twice is harmless."""
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run another TLS handshake inside this one (see :meth:`wrap`)."""
        return SyncTLSStream.wrap(self, ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        """As :meth:`SyncStream.get_extra_info`; ``"ssl_object"`` is this layer's
        ``ssl.SSLObject``, other keys come from the inner stream."""
        if info == "ssl_object":
            return self._ssl
        if info == "is_readable" and (self._ssl.pending() or self._incoming.pending):
            return True
        return self._stream.get_extra_info(info)

    def _pump(
        self, deadline: float | None, action: typing.Callable[..., T], *args: typing.Any
    ) -> T:
        # Retry an SSLObject call, feeding it ciphertext from the inner stream whenever it
        # runs dry and sending whatever it produced. With memory BIOs only reads can stall:
        # the outgoing buffer grows as needed.
        while True:
            try:
                result = action(*args)
            except ssl.SSLWantReadError:
                self._flush(deadline)
                data = self._stream.read(_CHUNK, _remaining(deadline))
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
            else:
                self._flush(deadline)
                return result

    def _flush(self, deadline: float | None) -> None:
        if self._outgoing.pending:
            self._stream.write(self._outgoing.read(), _remaining(deadline))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def _address(getter: typing.Callable[[], typing.Any]) -> typing.Any:
    try:
        address = getter()
    except OSError:
        return None
    # IPv6 adds flow info and scope id; the contract promises (host, port).
    return address[:2] if isinstance(address, tuple) else address


if hasattr(select, "poll"):

    def _readable_now(sock: socket.socket) -> bool:
        if sock.fileno() < 0:
            return True
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        # POLLHUP/POLLERR come back unasked: a reset connection counts as readable.
        return bool(poller.poll(0))

else:  # pragma: no cover - Windows

    def _readable_now(sock: socket.socket) -> bool:
        if sock.fileno() < 0:
            return True
        return bool(select.select([sock], [], [], 0)[0])
