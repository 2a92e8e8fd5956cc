"""The stream used on asyncio (and uvloop): an ``asyncio.Protocol`` with its own buffer.

anyio's socket stream re-arms the socket in the selector on every receive (it resumes
reading before each wait and pauses it after), and enters cancel scopes on every send;
on a request/response protocol that is most of the per-request I/O cost. Here the
transport keeps reading while the buffer is below a high-water mark, so data usually
waits in the buffer before it is asked for, and a read or a write that need not wait
costs no event-loop round trip at all.

Timeouts are one ``call_later`` handle per waiting call; cancellation (asyncio's, or an
anyio cancel scope's, which cancels the task) interrupts any wait and leaves the stream
consistent.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import typing

import anyio
import anyio.abc

from netbackend_base import (
    AsyncNetworkStream,
    ConnectError,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    poll_readable,
    socket_info,
)

from ._stream import AnyIOStream, describe, handshake

__all__ = ("AsyncioStream", "open_asyncio_stream")

# Reading pauses while this much is buffered and unread (a slow reader never makes the
# stream buffer without bound) and resumes once a read brings it under half of it.
_HIGH_WATER = 1024 * 1024
_LOW_WATER = _HIGH_WATER // 2

# Writes are held for the rest of the loop's turn (to leave together) only below this.
_CORK_LIMIT = 64 * 1024

# What the event loop is given as its own TLS handshake limit: in effect none (the
# caller's timeout is applied by a cancel scope instead).
_NO_LIMIT = 365 * 24 * 3600.0


def _release(future: asyncio.Future[None] | None) -> None:
    """Wake whoever waits on ``future`` (if anyone still does)."""
    if future is not None and not future.done():
        future.set_result(None)


def _deadline(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], timeout: float | None
) -> asyncio.TimerHandle | None:
    """Release ``future`` after ``timeout`` seconds (cancel the handle once woken)."""
    return None if timeout is None else loop.call_later(timeout, _release, future)


class _Protocol(asyncio.Protocol):
    """Buffers what the transport delivers and wakes the one waiting reader or writer."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_drain",
        "_eof",
        "_error",
        "_lost",
        "_paused",
        "_tls",
        "_transport",
        "_waiter",
        "_write_paused",
    )

    def __init__(self) -> None:
        # What the transport delivered and nobody has read yet (the front may be a view of
        # a chunk partly read).
        self._chunks: collections.deque[bytes | memoryview] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._eof = False
        self._lost = False
        self._error: Exception | None = None
        self._paused = False
        self._write_paused = False
        self._tls = False

    # The transport to write to and to pause: the socket's (from connection_made, which
    # the loop calls before create_connection returns), then the TLS one (start_tls).
    _transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= _HIGH_WATER and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        _release(self._waiter)

    def eof_received(self) -> bool:
        self._eof = True
        _release(self._waiter)
        # Keep a plain TCP transport open for writing after the peer's EOF; a TLS
        # transport closes itself whatever this returns (and warns if it is true).
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if exc is not None and self._error is None:
            self._error = exc
        _release(self._waiter)
        _release(self._drain)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        _release(self._drain)


class AsyncioStream(AsyncNetworkStream):
    """A TCP, Unix or TLS byte stream on an asyncio transport (asyncio or uvloop loop).

    One reader and one writer may use it at the same time.
    """

    __slots__ = (
        "_closed",
        "_loop",
        "_pending",
        "_pending_size",
        "_protocol",
        "_push_scheduled",
        "_raw",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: _Protocol,
        raw_socket: socket.socket,
    ) -> None:
        self._loop = loop
        self._protocol = protocol
        self._raw = raw_socket
        self._closed = False
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._push_scheduled = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or was closed, or the TLS layer failed.
        """
        protocol = self._protocol
        if not protocol._chunks:
            if self._closed:
                raise ReadError("the stream is closed")
            if not (protocol._eof or protocol._lost):
                if protocol._waiter is not None:
                    raise ReadError("another task is already reading from this stream")
                waiter = protocol._waiter = self._loop.create_future()
                handle = _deadline(self._loop, waiter, timeout)
                try:
                    await waiter
                finally:
                    protocol._waiter = None
                    if handle is not None:
                        handle.cancel()
                if self._closed:
                    raise ReadError("the stream was closed while reading")
            if not protocol._chunks:
                if protocol._error is not None:
                    raise ReadError(describe(protocol._error)) from protocol._error
                if protocol._eof or protocol._lost:
                    return b""
                raise ReadTimeout(f"no data received within {timeout} seconds")
        return self._take(max_bytes)

    def _take(self, max_bytes: int) -> bytes:
        protocol = self._protocol
        chunks = protocol._chunks
        chunk = chunks.popleft()
        size = len(chunk)
        data: bytes
        if size > max_bytes:
            # Hand over the front and keep a view of the rest: slicing a 256 KiB chunk
            # into fresh bytes objects again and again costs more than the data itself.
            view = chunk if type(chunk) is memoryview else memoryview(chunk)
            chunks.appendleft(view[max_bytes:])
            data = bytes(view[:max_bytes])
        elif chunks and size < max_bytes:
            # Several small chunks queued: hand over as many as fit, in one piece.
            parts = [chunk]
            while chunks and size + len(chunks[0]) <= max_bytes:
                part = chunks.popleft()
                parts.append(part)
                size += len(part)
            data = b"".join(parts)
        else:
            data = chunk if type(chunk) is bytes else bytes(chunk)
        protocol._buffered -= len(data)
        if protocol._paused and protocol._buffered <= _LOW_WATER:
            protocol._paused = False
            protocol._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` (an empty buffer is a no-op).

        The first write in a turn of the event loop goes to the socket at once; any
        further writes in the same turn leave together, in one send, when the turn ends
        (so the requests of many tasks on one HTTP/2 connection share packets and system
        calls), or as soon as 64 KiB of them are waiting. The
        transport keeps what the socket does not take; this waits only while more than
        its write-buffer limit is still unsent.

        Raises:
            WriteTimeout: The unsent data did not drain within ``timeout``.
            WriteError: The connection broke or was closed, or the TLS layer failed.
        """
        if not buffer:
            return
        protocol = self._protocol
        if self._closed or protocol._lost or protocol._transport.is_closing():
            raise WriteError(self._broken("write to"))
        if not self._push_scheduled:
            # The first write of this turn of the loop leaves at once; later ones wait
            # for the turn to end and leave together.
            self._push_scheduled = True
            self._loop.call_soon(self._push_soon)
            self._send(buffer)
        else:
            self._pending.append(buffer)
            self._pending_size += len(buffer)
            if self._pending_size >= _CORK_LIMIT:
                self._push()
        if not protocol._write_paused:
            return
        drain = protocol._drain = self._loop.create_future()
        handle = _deadline(self._loop, drain, timeout)
        try:
            await drain
        finally:
            protocol._drain = None
            if handle is not None:
                handle.cancel()
        if self._closed or protocol._lost:
            raise WriteError(self._broken("finish writing to"))
        if protocol._write_paused:
            raise WriteTimeout(f"could not send within {timeout} seconds")

    def _push_soon(self) -> None:
        self._push_scheduled = False
        if self._pending and not self._closed:
            self._push()

    def _push(self) -> None:
        """Hand everything written so far to the transport."""
        pending = self._pending
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._pending_size = 0
        self._send(data)

    def _send(self, data: bytes) -> None:
        transport = self._protocol._transport
        if transport.is_closing():
            return  # the connection is gone; the next read or write says so
        try:
            transport.write(data)
        except (RuntimeError, OSError) as exc:
            # The transport refused it (closed under us): fail the stream like a reset.
            self._protocol.connection_lost(exc)

    def _broken(self, action: str) -> str:
        error = self._protocol._error
        if error is not None:
            return f"cannot {action} the stream: {describe(error)}"
        return f"cannot {action} a closed stream"

    async def aclose(self) -> None:
        """Close the stream (and every layer under it) and release the socket.

        Never raises and never waits for the peer; calling it again does nothing.
        """
        if self._closed:
            return
        if self._pending:
            # Written just before closing (a GOAWAY, say): out it goes, as far as the
            # socket takes it at once.
            self._push()
        self._closed = True
        protocol = self._protocol
        protocol._chunks.clear()
        _release(protocol._waiter)
        protocol._transport.abort()
        # The transport releases its socket one loop iteration after abort(); closing
        # it here makes the release synchronous. A second close is a no-op.
        self._raw.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Run a TLS client handshake over this stream (TLS-in-TLS included).

        ``ssl_context`` is used as given (ALPN protocols, verification), never modified.
        The returned stream owns this one; on failure or cancellation this one is closed.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (certificate, host name, peer closed).
        """
        protocol = self._protocol
        if protocol._tls:
            # TLS inside TLS (an HTTPS proxy tunnel): anyio's memory-BIO TLS layer over
            # this stream. Only proxies take this path; it need not be the fastest one.
            carrier = AnyIOStream(_ByteStream(self), self._raw)
            return await carrier.start_tls(ssl_context, server_hostname, timeout)
        if self._pending:
            self._push()
        if protocol._chunks or protocol._eof or protocol._lost:
            await self.aclose()
            raise ConnectError("the peer sent data or closed before the TLS handshake")
        transport = await handshake(
            self,
            self._loop.start_tls(
                protocol._transport,
                protocol,
                ssl_context,
                server_hostname=server_hostname,
                # The limit is the cancel scope's; the loop's own would fire a
                # ConnectionAbortedError after 60 seconds.
                ssl_handshake_timeout=_NO_LIMIT,
            ),
            timeout,
            server_hostname,
        )
        protocol._tls = True
        # The loop does not call connection_made for the TLS transport (start_tls hands
        # it back instead); writes and flow control go through it from now on. (The
        # loops return a transport here; None appears only in typeshed's signature.)
        protocol._transport = typing.cast(asyncio.Transport, transport)
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        """Return ``ssl_object``, ``client_addr``, ``server_addr``, ``socket`` or ``is_readable``.

        Any other key, or an address asked of a closed stream, returns ``None``.
        """
        if info == "ssl_object":
            if not self._protocol._tls:
                return None
            return self._protocol._transport.get_extra_info("ssl_object")
        if info == "is_readable":
            return self._is_readable()
        return socket_info(self._raw, info)

    def _is_readable(self) -> bool:
        protocol = self._protocol
        if protocol._chunks or protocol._eof or protocol._lost or self._closed:
            return True
        if protocol._tls:
            # The loop reads the socket whenever it turns; what is still queued there now
            # may be TLS housekeeping (session tickets), not data. Check the buffer only.
            return False
        return poll_readable(self._raw)


class _ByteStream(anyio.abc.ByteStream):
    """Presents an :class:`AsyncioStream` to anyio's TLS layer."""

    def __init__(self, stream: AsyncioStream) -> None:
        self._stream = stream

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            data = await self._stream.read(max_bytes)
        except ReadError as exc:
            raise anyio.BrokenResourceError(str(exc)) from exc
        if not data:
            raise anyio.EndOfStream
        return data

    async def send(self, item: bytes) -> None:
        try:
            await self._stream.write(item)
        except WriteError as exc:
            raise anyio.BrokenResourceError(str(exc)) from exc

    async def send_eof(self) -> None:  # pragma: no cover - TLS never half-closes here
        raise NotImplementedError("TLS streams do not half-close")

    async def aclose(self) -> None:
        await self._stream.aclose()


async def open_asyncio_stream(sock: socket.socket, *, unix: bool) -> AsyncioStream:
    """Hand a connected socket to the running asyncio loop; the stream owns it from then on."""
    loop = asyncio.get_running_loop()
    protocol = _Protocol()
    if unix:
        await loop.create_unix_connection(lambda: protocol, sock=sock)
    else:
        await loop.create_connection(lambda: protocol, sock=sock)
    return AsyncioStream(loop, protocol, sock)
