"""Streams over blocking sockets, with TLS through ``ssl.SSLObject`` and memory BIOs.

Theory of operation:

* Every stream supports one reading thread and one writing thread at the same time (full
  duplex), which a multiplexing protocol such as HTTP/2 needs: one request reads the
  socket for everyone while another sends.
* :class:`SyncStream` holds one plain socket (TCP or Unix), left blocking with no socket
  timeout, so that nothing shared changes under a concurrent call. A timeout is a
  ``poll`` for readiness before the ``recv``, and for writes non-blocking sends between
  polls, under one deadline for the whole write.
* TLS is :class:`SyncTLSStream`: an ``ssl.SSLObject`` over two ``ssl.MemoryBIO`` buffers,
  with the ciphertext moved through the inner stream's ``read``/``write``. OpenSSL does
  not allow one SSL object to be used from two threads at once (``SSLSocket`` does that
  when one thread reads while another writes, and corrupts records), so every call into
  the SSL object and its buffers happens under a short lock that is never held across
  socket I/O, and a second lock keeps encrypted records in order on the wire. The same
  class carries TLS-in-TLS (HTTPS proxies).
* TLS sessions are remembered per context and server (``_sessions``) and offered again on
  the next connection there: a resumed handshake skips the certificate exchange.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
import typing

from netbackend_base import NetworkStream, poll_readable, socket_info

from ._errors import READ_ERRORS, WRITE_ERRORS, handshake_failed, reraise
from ._sessions import SESSIONS, SessionCache, SessionKey, resumable

__all__ = ("SyncStream", "SyncTLSStream")


# How much ciphertext to pull from the inner stream per read.
_CHUNK = 65536
# Non-blocking send on a blocking socket, for writes with a timeout.
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class SyncStream(NetworkStream):
    """A blocking plain socket stream: TCP or Unix (TLS is :class:`SyncTLSStream`).

    Implements :class:`netbackend_base.NetworkStream`; its contract (errors, timeouts,
    extra-info keys) applies. One thread may read while another writes (full duplex);
    concurrent reads, or concurrent writes, are not supported.
    """

    def __init__(self, sock: socket.socket, sessions: SessionCache | None = SESSIONS) -> None:
        """Take ownership of a connected socket.

        Args:
            sock: A connected plain socket; it is made blocking with no timeout.
            sessions: Where TLS sessions are remembered for resumption (by default the
                process-wide cache); ``None`` makes every handshake a full one.
        """
        sock.settimeout(None)
        self._sock = sock
        self._sessions = sessions
        # One poller per direction, made once: reads and writes with a timeout are the
        # per-request path, and the reading and the writing thread each use their own.
        self._readable = _poller(sock, read=True)
        self._writable = _poller(sock, read=False)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke.
        """
        try:
            if timeout is not None and not _ready(self._readable, timeout):
                raise TimeoutError("read timed out")
            return self._sock.recv(max_bytes)
        except OSError:
            reraise(READ_ERRORS)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` within ``timeout``; an empty buffer is a no-op.

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke.
        """
        if not buffer:
            return
        try:
            if timeout is None:
                self._sock.sendall(buffer)
                return
            deadline = time.monotonic() + timeout
            view = memoryview(buffer)
            while view:
                try:
                    view = view[self._sock.send(view, _DONTWAIT) :]
                except BlockingIOError:
                    if not _ready(self._writable, _remaining(deadline) or 0.0):
                        raise TimeoutError("write timed out") from None
        except OSError:
            reraise(WRITE_ERRORS)

    def close(self) -> None:
        """Close the socket. Never raises; closing twice is harmless.

        The socket is shut down first: on Linux, closing alone does not wake another
        thread blocked in ``recv`` or ``send`` on it (that thread would wait for its
        timeout, or for ever), and HTTP/2 closes a failed connection to end the reads
        and writes of the requests still on it.
        """
        sock = self._sock
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # never connected, already reset or already closed
        try:
            sock.close()
        except OSError:
            pass

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run a TLS client handshake over this stream and return the TLS stream.

        The result is a :class:`SyncTLSStream` that owns this stream; on failure this
        stream is closed. ``ssl_context`` is used as it is (its ALPN protocols, its
        verification settings). A session from an earlier connection through the same
        context to the same server (name, address and port) is offered for resumption.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (bad certificate, wrong hostname, the
                peer closed).
        """
        resume = None
        if self._sessions is not None:
            peer = socket_info(self._sock, "server_addr")
            if peer is not None:
                # The verification settings are part of the key: a session made while
                # they were looser is never resumed (resuming skips the checks).
                checks = (ssl_context.verify_mode, ssl_context.check_hostname)
                resume = (self._sessions, (server_hostname, peer, checks))
        return SyncTLSStream.wrap(self, ssl_context, server_hostname, timeout, resume)

    def get_extra_info(self, info: str) -> typing.Any:
        """Return ``"ssl_object"``, ``"client_addr"``, ``"server_addr"``, ``"socket"`` or
        ``"is_readable"`` (see :class:`netbackend_base.NetworkStream`); else ``None``.

        ``"is_readable"`` is ``True`` on a closed stream too: a read would not block.
        """
        if info == "is_readable":
            return poll_readable(self._sock)
        if info == "ssl_object":
            return None
        return socket_info(self._sock, info)


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
        # Guards the SSL object and both buffers; never held across socket I/O.
        self._state = threading.Lock()
        # Held from taking encrypted bytes out of the buffer until they are sent, so
        # records reach the wire in the order the SSL object produced them.
        self._sending = threading.Lock()
        # Where to remember this connection's session (the cache, the context and the
        # key), until the session has been looked at.
        self._resume: tuple[SessionCache, ssl.SSLContext, SessionKey] | None = None

    @classmethod
    def wrap(
        cls,
        stream: NetworkStream,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
        resume: tuple[SessionCache, SessionKey] | None = None,
    ) -> SyncTLSStream:
        """Run a TLS client handshake over ``stream`` and return the TLS stream.

        On failure ``stream`` is closed.

        Args:
            resume: A session cache and this server's key in it: a remembered session
                is offered, and this connection's is remembered once resumable.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed, or the inner stream broke.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if ssl_context.check_hostname and not server_hostname:
                # wrap_socket refuses this up front; wrap_bio would only fail later.
                raise ValueError("check_hostname requires server_hostname")
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            ssl_object = ssl_context.wrap_bio(
                incoming, outgoing, server_side=False, server_hostname=server_hostname
            )
            tls = cls(stream, ssl_object, incoming, outgoing)
            offered = False
            if resume is not None:
                sessions, key = resume
                session = sessions.get(ssl_context, key)
                if session is not False:  # (False: this server refuses resumption)
                    tls._resume = (sessions, ssl_context, key)
                if session:
                    ssl_object.session = session
                    offered = True
            tls._handshake(deadline)
        except BaseException as exc:
            if resume is not None:
                resume[0].discard(ssl_context, resume[1])
            stream.close()
            handshake_failed(exc, server_hostname)
        if offered and not ssl_object.session_reused:
            assert resume is not None
            resume[0].refuse(ssl_context, resume[1])
            tls._resume = None
        if ssl_object.version() != "TLSv1.3":
            tls._remember()  # (TLS 1.3 tickets come after the handshake: see read())
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
            while True:
                with self._state:
                    try:
                        data: bytes | None = self._ssl.read(max_bytes)
                    except ssl.SSLWantReadError:
                        data = None
                    produced = self._outgoing.pending
                if produced:
                    # Reading can produce records (TLS 1.3 post-handshake messages).
                    self._send(deadline)
                if data is not None:
                    if self._resume is not None:
                        # A TLS 1.3 server sends its tickets right after the handshake,
                        # so they are in by the first data, or not coming.
                        self._remember()
                    return data
                self._feed(deadline)
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
            with self._sending:
                with self._state:
                    # Memory BIOs take any amount: the write completes here.
                    self._ssl.write(buffer)
                    ciphertext = self._outgoing.read()
                self._stream.write(ciphertext, _remaining(deadline))
        except OSError:
            reraise(WRITE_ERRORS)

    def close(self) -> None:
        """Close the inner stream. Never raises; closing twice is harmless."""
        self._stream.close()

    def _remember(self) -> None:
        """Store the session if it is resumable, else take the server to refuse
        resumption; called once per connection.

        Once only, because every look at ``SSLObject.session`` copies the session
        (serialised and parsed again with the server's certificate in it), which costs
        about as much as verifying that certificate; and not at all for a while after a
        server gave nothing resumable.
        """
        resume = self._resume
        if resume is None:
            return
        self._resume = None
        with self._state:
            session = resumable(self._ssl)
        if session is not None:
            resume[0].put(resume[1], resume[2], session)
        else:
            resume[0].refuse(resume[1], resume[2])

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

    def _handshake(self, deadline: float | None) -> None:
        # Retry the handshake, sending what it produced and feeding it ciphertext
        # whenever it runs dry.
        while True:
            try:
                self._ssl.do_handshake()
            except ssl.SSLWantReadError:
                self._send(deadline)
                self._feed(deadline)
            else:
                self._send(deadline)
                return

    def _feed(self, deadline: float | None) -> None:
        """Move one read's worth of ciphertext (or the EOF) from the inner stream in."""
        ciphertext = self._stream.read(_CHUNK, _remaining(deadline))
        with self._state:
            if ciphertext:
                self._incoming.write(ciphertext)
            else:
                self._incoming.write_eof()

    def _send(self, deadline: float | None) -> None:
        with self._sending:
            with self._state:
                ciphertext = self._outgoing.read()
            if ciphertext:
                self._stream.write(ciphertext, _remaining(deadline))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class _Waiter(typing.Protocol):
    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]: ...


def _poller(sock: socket.socket, *, read: bool) -> _Waiter:
    """A waiter for one direction of ``sock``: ``select.poll``, or select() without it."""
    if not hasattr(select, "poll"):
        return _SelectWaiter(sock, read)
    poller = select.poll()
    poller.register(sock, select.POLLIN if read else select.POLLOUT)
    return poller


class _SelectWaiter:
    """``select.poll``'s one method over ``select.select``, where poll is missing (Windows)."""

    __slots__ = ("_read", "_sock")

    def __init__(self, sock: socket.socket, read: bool) -> None:
        self._sock = sock
        self._read = read

    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]:
        sock = self._sock
        wait = None if timeout is None else timeout / 1000
        if self._read:
            ready, _, _ = select.select([sock], [], [], wait)
        else:
            _, ready, _ = select.select([], [sock], [], wait)
        return [(sock.fileno(), 0)] if ready else []


def _ready(poller: _Waiter, timeout: float) -> bool:
    """Wait until the polled socket is ready; ``False`` if ``timeout`` passed first."""
    return bool(poller.poll(max(timeout, 0.0) * 1000))
