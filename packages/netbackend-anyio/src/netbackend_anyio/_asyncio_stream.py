"""The stream used on asyncio (and uvloop): an ``asyncio.BufferedProtocol`` with its own buffer.

anyio's socket stream re-arms the socket in the selector on every receive (it resumes
reading before each wait and pauses it after), and enters cancel scopes on every send;
on a request/response protocol that is most of the per-request I/O cost. Here the
transport keeps reading while the buffer is below a high-water mark, so data usually
waits in the buffer before it is asked for, and a read or a write that need not wait
costs no event-loop round trip at all.

The transport reads straight into the stream's buffer (``get_buffer`` /
``buffer_updated``): one ``bytearray`` per connection, reused for its whole life, so a
read costs a ``recv_into`` and one copy out, never the 256 KiB ``bytes`` object (mapped
and unmapped by the allocator each time) that a plain ``asyncio.Protocol`` is handed.

Timeouts: a read that finds data never touches a timer. A read that waits records its
deadline; one timer per stream, re-armed only when it fires before the deadline of the
read then waiting (or when a read wants an earlier one), wakes the reader once its
deadline has passed. With the same timeout on every read that is one timer per timeout
period, not a ``call_later`` and a ``cancel`` per read. Cancellation (asyncio's, or an
anyio cancel scope's, which cancels the task) interrupts any wait and leaves the stream
consistent.

``send_ahead`` serves request/response protocols whose next request is written by the
task that finishes the previous one: it writes at once and wakes a given future when
the answer starts to arrive, so the task that made the request wakes only once.
"""

from __future__ import annotations

import asyncio
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

# The buffer: this big at first (enough for a small response, cheap to allocate for a
# connection that makes one request), and _BULK once a read fills all the room it was
# offered (more is coming: fewer, larger reads, as asyncio's own 256 KiB ones).
_INITIAL = 64 * 1024
_BULK = 256 * 1024
# Room offered to the transport: at least this much, and otherwise no more than the
# high-water mark leaves, so unread data stays under _HIGH_WATER + _MIN_ROOM however much
# one read takes (uvloop fills all it is offered). When the tail of the buffer is
# shorter, the unread data moves to the front if it fills at most half the buffer (a
# cheap copy) or the buffer is already as large as the high-water mark; else the buffer
# doubles (a reader that lags, or uvloop reading many times per turn, fills it up to the
# mark). A buffer larger than _BULK is replaced by a _BULK one when a read empties it
# after at most a quarter of it was in use since it was last empty: one burst does not
# keep a large buffer for the life of the connection, and a stream that keeps filling it
# does not reallocate it again and again.
_MIN_ROOM = 16 * 1024

# Writes are held for the rest of the loop's turn (to leave together) only below this.
_CORK_LIMIT = 64 * 1024

# A timer that fires this close to the deadline counts as expired (uvloop's clock has
# millisecond steps).
_TIMER_SLACK = 0.001

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


class _Protocol(asyncio.BufferedProtocol):
    """Receives into one reusable buffer and wakes the one waiting reader or writer.

    Unread data is ``_view[_start:_end]``; the transport writes at ``_end``.
    """

    __slots__ = (
        "_buf",
        "_drain",
        "_end",
        "_eof",
        "_error",
        "_filled",
        "_handshaking",
        "_head",
        "_lost",
        "_notify",
        "_paused",
        "_peak",
        "_start",
        "_tls",
        "_transport",
        "_view",
        "_waiter",
        "_write_paused",
    )

    def __init__(self) -> None:
        self._buf = bytearray(_INITIAL)
        # Never resized (a view of it may be out with the transport): replaced instead.
        self._view = memoryview(self._buf)
        # What an empty buffer offers: all of it, up to the high-water mark.
        self._head = self._view[:_HIGH_WATER]
        self._start = 0
        self._end = 0
        # The last read filled all the room it was given.
        self._filled = False
        # The most unread data since a read last emptied the buffer.
        self._peak = 0
        self._waiter: asyncio.Future[None] | None = None
        # A future to wake (once) when data, EOF or an error next arrives, set by
        # AsyncioStream.send_ahead(); unlike _waiter, no read waits on it.
        self._notify: asyncio.Future[typing.Any] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._eof = False
        self._lost = False
        self._error: Exception | None = None
        self._paused = False
        self._write_paused = False
        self._tls = False
        # A TLS handshake is under way: the socket's transport is the TLS layer's to
        # pause, and what the layer hands over before start_tls returns waits for the
        # TLS transport (see tls_started()).
        self._handshaking = False

    # The transport to write to and to pause: the socket's (from connection_made, which
    # the loop calls before create_connection returns), then the TLS one (start_tls).
    _transport: asyncio.Transport

    @property
    def _buffered(self) -> int:
        """How many bytes are received and not read yet."""
        return self._end - self._start

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = typing.cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        end = self._end
        if not end and not self._filled:
            return self._head  # empty, and no need to grow (no new slice)
        size = len(self._buf)
        if self._filled and size < _BULK:
            self._replace(_BULK)
        elif size - end < _MIN_ROOM:
            unread = end - self._start
            if unread <= size // 2 or (size >= _HIGH_WATER and size - unread >= _MIN_ROOM):
                self._view[:unread] = self._view[self._start : end]
                self._start = 0
                self._end = unread
            else:
                self._replace(size * 2)
        # Never more room than the mark leaves (at least _MIN_ROOM): one read that fills
        # all it is offered (uvloop reads as much as it is given) stays near the mark.
        end = self._end
        room = _HIGH_WATER - (end - self._start)
        return self._view[end : end + (room if room > _MIN_ROOM else _MIN_ROOM)]

    def _replace(self, size: int) -> None:
        """Move the unread data to the front of a new buffer of ``size`` bytes."""
        unread = self._end - self._start
        buf = bytearray(size)
        view = memoryview(buf)
        view[:unread] = self._view[self._start : self._end]
        self._buf = buf
        self._view = view
        self._head = view[:_HIGH_WATER]
        self._start = 0
        self._end = unread

    def buffer_updated(self, nbytes: int) -> None:
        end = self._end + nbytes
        self._end = end
        self._filled = end == len(self._buf)
        unread = end - self._start
        if unread > self._peak:
            self._peak = unread
        if unread >= _HIGH_WATER and not self._paused:
            self._paused = True
            if not self._handshaking:
                self._transport.pause_reading()
        waiter = self._waiter
        if waiter is not None and nbytes and not waiter.done():
            waiter.set_result(None)
        notify = self._notify
        if notify is not None and nbytes:
            self._notify = None
            if not notify.done():
                notify.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        """Remove and return up to ``max_bytes`` of the unread data (one copy)."""
        start = self._start
        end = self._end
        stop = start + max_bytes
        if stop >= end:
            data = bytes(self._view[start:end])
            self._start = self._end = 0
            size = len(self._buf)
            if size > _BULK and self._peak <= size // 4:
                self._replace(_BULK)
            self._peak = 0
        else:
            data = bytes(self._view[start:stop])
            self._start = stop
        if self._paused and self._end - self._start <= _LOW_WATER:
            self._paused = False
            if not self._handshaking:
                self._transport.resume_reading()
        return data

    def tls_started(self, transport: asyncio.Transport) -> None:
        """The handshake is done: writes and flow control go through ``transport`` (the
        TLS one) from now on; reading pauses there if the mark was reached meanwhile."""
        self._handshaking = False
        self._tls = True
        self._transport = transport
        if self._paused:
            transport.pause_reading()

    def discard(self) -> None:
        self._start = self._end = 0

    def eof_received(self) -> bool:
        self._eof = True
        _release(self._waiter)
        _release(self._notify)
        # Keep a plain TCP transport open for writing after the peer's EOF; a TLS
        # transport closes itself whatever this returns (and warns if it is true).
        return not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if exc is not None and self._error is None:
            self._error = exc
        _release(self._waiter)
        _release(self._notify)
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
        "_read_deadline",
        "_timer",
        "_timer_when",
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
        # The deadline of the read waiting now (None: none, or it waits without one).
        self._read_deadline: float | None = None
        # The read timer (if armed) and when it fires.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke or was closed, or the TLS layer failed.
        """
        protocol = self._protocol
        if protocol._start == protocol._end:
            if self._closed:
                raise ReadError("the stream is closed")
            if not (protocol._eof or protocol._lost):
                if protocol._waiter is not None:
                    raise ReadError("another task is already reading from this stream")
                waiter = protocol._waiter = self._loop.create_future()
                if timeout is not None:
                    self._arm(timeout)
                try:
                    await waiter
                finally:
                    protocol._waiter = None
                    self._read_deadline = None
                if self._closed:
                    raise ReadError("the stream was closed while reading")
            if protocol._start == protocol._end:
                if protocol._error is not None:
                    raise ReadError(describe(protocol._error)) from protocol._error
                if protocol._eof or protocol._lost:
                    return b""
                raise ReadTimeout(f"no data received within {timeout} seconds")
        return protocol.take(max_bytes)

    def _arm(self, timeout: float) -> None:
        """Make the read timer wake the waiting read ``timeout`` seconds from now."""
        deadline = self._loop.time() + timeout
        self._read_deadline = deadline
        timer = self._timer
        if timer is not None:
            if self._timer_when <= deadline:
                return  # fires first, then waits on for this deadline (see _expire)
            timer.cancel()
        self._timer = self._loop.call_at(deadline, self._expire)
        self._timer_when = deadline

    def _expire(self) -> None:
        """The read timer fired: end the waiting read if its deadline has passed."""
        self._timer = None
        deadline = self._read_deadline
        if deadline is None:
            return  # nobody waits with a deadline: the timer lapses
        if self._loop.time() >= deadline - _TIMER_SLACK:
            _release(self._protocol._waiter)
        else:
            self._timer = self._loop.call_at(deadline, self._expire)
            self._timer_when = deadline

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` (an empty buffer is a no-op).

        A write goes to the transport at once, except while another task waits to read
        from this stream (many tasks sharing one connection, as HTTP/2 requests do):
        then the first write in a turn of the event loop goes at once, and any further
        writes in that turn leave together, in one send, when the turn ends (or as soon
        as 64 KiB of them are waiting). The transport keeps what the socket does not
        take; this waits only while more than its write-buffer limit is still unsent.

        Raises:
            WriteTimeout: The unsent data did not drain within ``timeout``.
            WriteError: The connection broke or was closed, or the TLS layer failed.
        """
        if not buffer:
            return
        protocol = self._protocol
        transport = protocol._transport
        if self._closed or protocol._lost or transport.is_closing():
            raise WriteError(self._broken("write to"))
        if self._push_scheduled:
            # Later in a turn that has corked: joins the others (and keeps the order).
            self._pending.append(buffer)
            self._pending_size += len(buffer)
            if self._pending_size >= _CORK_LIMIT:
                self._push()
        else:
            if protocol._waiter is not None:
                # Another task is reading: more writes of other tasks may follow in this
                # turn; they wait for its end and leave together.
                self._push_scheduled = True
                self._loop.call_soon(self._push_soon)
            # (_send, inline: the transport was just found open)
            try:
                transport.write(buffer)
            except (RuntimeError, OSError) as exc:
                protocol.connection_lost(exc)
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

    def send_ahead(self, data: bytes, waiter: asyncio.Future[typing.Any]) -> bool:
        """Write ``data`` now, without waiting, and wake ``waiter`` later.

        For a request/response protocol whose next request is sent by whoever finishes
        the previous one: the task that made the request is then woken only once, when
        its response starts to arrive. ``waiter`` is given ``set_result(None)`` (unless
        already done) as soon as data, EOF or an error arrives, or the stream is closed;
        no read waits on it.

        Returns:
            Whether ``data`` was written and ``waiter`` registered. ``False`` (nothing
            done) when that cannot be done at once: unread data is buffered, the
            stream is closed, at EOF or broken, a read or another such waiter is
            waiting, or writes are held (corked, or waiting for the transport to
            drain). A transport already closing takes nothing, and its coming
            ``connection_lost`` wakes ``waiter``.
        """
        protocol = self._protocol
        if (
            self._closed
            or self._push_scheduled
            or protocol._start != protocol._end
            or protocol._eof
            or protocol._lost
            or protocol._waiter is not None
            or protocol._notify is not None
            or protocol._write_paused
        ):
            return False
        # (Registered first: a write that fails, or a transport found closing, ends in
        # connection_lost, which wakes it as a reset would.)
        protocol._notify = waiter
        self._send(data)
        return True

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
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        protocol = self._protocol
        protocol.discard()
        _release(protocol._waiter)
        _release(protocol._notify)
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
        if protocol._start != protocol._end or protocol._eof or protocol._lost:
            await self.aclose()
            raise ConnectError("the peer sent data or closed before the TLS handshake")
        protocol._handshaking = True
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
        # The loop does not call connection_made for the TLS transport (start_tls hands
        # it back instead). (The loops return a transport here; None appears only in
        # typeshed's signature.)
        protocol.tls_started(typing.cast(asyncio.Transport, transport))
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
        if protocol._start != protocol._end or protocol._eof or protocol._lost or self._closed:
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
