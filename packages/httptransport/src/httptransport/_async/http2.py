"""HTTP/2 over one network stream: :class:`AsyncHTTP2Connection`.

Theory of operation
-------------------
One :class:`h2.connection.H2Connection` per network stream holds the whole protocol
state; every call into it is synchronous, so on an event loop no lock is needed around
it (the generated sync connection wraps each such section in a threading lock,
``_lock``: see :mod:`httptransport._locks`). Requests run concurrently on the
connection, each on its own stream
(RFC 9113 section 5), and nothing runs in the background:

* Reading. At most one request at a time is the *reader*: the first one that needs
  something from the server (a response head, body data, a flow-control window) and
  finds nobody reading. It reads from the socket, feeds the bytes to h2 and hands each
  resulting event to the stream it belongs to (a deque per stream), waking that
  stream's request through its event. It keeps reading until its own stream has
  something; when it stops it passes the role to one request still waiting, so the
  socket is never left unread while somebody needs it. Everyone else sleeps on its own
  stream's event: one wake-up per stream per read, no lock convoy.

* Writing. h2 queues outgoing frames in memory. Whoever queued something calls
  :meth:`_flush`; if another request is already writing, that writer takes the new
  bytes along on its next loop, so frames of many streams leave in one write. A
  writer cancelled while other streams share the connection still finishes its write
  (shielded, within its write timeout), then hands the rest of the queue over or sends
  it: no frame is left half written. A request that waits for a stuck writer longer
  than its own timeout closes the connection, which also ends that write.

* Flow control (RFC 9113 section 5.2). Received DATA is acknowledged only when the
  user consumes it from the response body, so a slow reader closes the server's window
  on its stream instead of making us buffer; our stream window is
  :data:`STREAM_WINDOW` and the connection window :data:`CONNECTION_WINDOW`. Request
  bodies are sent as the server's windows allow; a request out of window waits (as a
  reader, if nobody else is) for a WINDOW_UPDATE or SETTINGS change.

* Concurrency limit (RFC 9113 section 5.1.2). :meth:`stream_capacity` reports the
  server's SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive); the pool
  polls it and grants at most that many requests. A request that finds every stream
  in use anyway (the server lowered the limit) gets :class:`ConnectionNotAvailable`
  and the pool places it elsewhere, so a lowered limit never deadlocks.

* Ending streams. A request whose response is closed early, that times out or is
  cancelled, resets its stream (RST_STREAM CANCEL, section 8.7) at once and frees its
  slot; frames still arriving for it are dropped, their bytes credited back to the
  connection window.
  A request whose response came, and ended, before its body was all sent stops
  sending and resets its stream (RST_STREAM NO_ERROR, section 8.1) once the response
  has ended, so that the server frees it.

* Failures. An h2 protocol error, EOF or socket error fails every stream with
  :class:`RemoteProtocolError` (or the socket error) and closes the connection;
  errors building our own frames are :class:`LocalProtocolError`. RST_STREAM fails
  only its stream. GOAWAY (section 6.8): streams above ``last_stream_id`` were not
  processed, so their requests raise :class:`ConnectionNotAvailable` and the pool
  replays them on another connection; with ``NO_ERROR`` the others finish normally,
  with an error code they fail. No new stream starts on a connection after GOAWAY.

h2 is optional and imported with the first connection; its adaptation is
:mod:`httptransport._h2_adapter`, header sections :mod:`httptransport._h2_headers`, the
table of streams and the delivery of events to them :mod:`httptransport._h2_streams`,
request bodies :mod:`.http2_request_body` and response bodies :mod:`.http2_body`.
"""

from __future__ import annotations

import contextlib
import logging
import time
import typing

from netbackend_base import (
    AsyncEvent,
    AsyncNetworkStream,
    ReadTimeout,
    WriteTimeout,
    async_shielded,
)

from .._exceptions import ConnectionNotAvailable, RemoteProtocolError
from .._h2_adapter import (
    H2,
    new_client_connection,
    outbound_backlog,
)
from .._h2_headers import request_headers, reset_error, response_fields
from .._h2_streams import AsyncWriteShield, H2ConnectionState, H2Stream, StreamTable
from .._locks import AsyncPoolWaiters, AsyncThreadLock
from .._models import (
    DEFAULT_PORTS,
    ByteStream,
    Origin,
    Request,
    Response,
    head_deadline,
    new_response,
    time_left,
    timeouts,
)
from .._trace import Trace
from .http2_body import AsyncHTTP2Body, AsyncHTTP2CutBody
from .http2_request_body import send_body
from .interfaces import IDLE_POLL_AFTER, AsyncConnectionInterface
from .traced_body import AsyncTracedBody

__all__ = ("INITIAL_MAX_STREAMS", "PING_TIMEOUT", "AsyncHTTP2Connection")

logger = logging.getLogger("httptransport.http2")
_DEBUG = logging.DEBUG

READ_NUM_BYTES = 64 * 1024
# The concurrency limit assumed until the server's SETTINGS say otherwise (RFC 9113
# section 6.5.2 recommends servers allow at least 100).
INITIAL_MAX_STREAMS = 100
# How long a keep-alive PING waits for its ACK when the request sets no read timeout.
PING_TIMEOUT = 10.0
# The opaque 8 bytes of our keep-alive PING (RFC 9113 section 6.7).
_PING_PAYLOAD = b"htkeepal"
# RST_STREAM error code (RFC 9113 section 7) of a stream the server refused before
# processing anything of it.
_REFUSED_STREAM = 0x7
_NO_ERROR = 0x0
# How long a request giving up its stream may spend writing the RST_STREAM (with
# whatever else h2 queued) when nobody else is writing; past it the connection is stuck.
_RESET_WRITE_TIMEOUT = 5.0
_CUT_WRITE = "A request was cancelled part-way through writing to the connection."
# Why a request waiting for the writer gave up.
_SLOW_WRITES = (
    "Could not send within the write timeout: the connection's writes are not keeping up."
)
_STUCK_WRITES = (
    "No data received within the read timeout (the connection's writes were stuck while "
    "the server kept sending)."
)
# How long closing may spend telling the server with GOAWAY before it just hangs up.
_GOAWAY_WRITE_TIMEOUT = 1.0


class AsyncHTTP2Connection(H2ConnectionState, AsyncConnectionInterface):
    """An HTTP/2 connection over an open network stream.

    Args:
        origin: Where the stream goes.
        stream: The connected stream (TLS with ALPN ``h2``, or cleartext h2c).
        keepalive_expiry: Seconds an idle connection stays reusable; ``None`` for ever.
        keepalive_ping: When set, a connection idle at least this many seconds is
            checked with a PING (RFC 9113 section 6.7) before it takes a request; if no
            acknowledgement comes within the request's ``read`` timeout (or
            :data:`PING_TIMEOUT` seconds, when none is given) it is closed and the
            request goes elsewhere.

    Raises:
        ImportError: h2 is not installed.
    """

    _idle_poll_after = IDLE_POLL_AFTER

    def __init__(
        self,
        origin: Origin,
        stream: AsyncNetworkStream,
        keepalive_expiry: float | None = None,
        *,
        keepalive_ping: float | None = None,
    ) -> None:
        self._origin = origin
        self._network_stream = stream
        self._keepalive_expiry = keepalive_expiry
        self._keepalive_ping = keepalive_ping
        self._h2_state: typing.Any = new_client_connection()  # an h2.connection.H2Connection
        # Around every section that touches h2 or the stream table (see the module doc).
        self._lock = AsyncThreadLock()
        # What requests sleep on: plain futures on asyncio (see _locks).
        self._waiters = AsyncPoolWaiters()
        self._table = StreamTable(INITIAL_MAX_STREAMS, self._waiters.wake)
        self._streams = self._table.streams
        self._waiting = self._table.waiting
        self._reading = False
        self._writing = False
        self._in_flight = False  # a write has started and not finished
        self._retiring = False  # the writer was cancelled and finishes the queue
        self._heirs = 0  # requests waiting to take the writing over from it
        self._wired = 0  # streams up to this id have had frames taken by a writer
        self._drained: AsyncEvent | None = None  # a reader waiting for the writer
        self._initiated = False
        self._error: BaseException | None = None  # set once the connection is broken
        self._closed = False
        self._request_count = 0
        self._idle_since = time.monotonic()
        self._expire_at: float | None = None
        self._touch_idle()

    # -- requests -------------------------------------------------------------------

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` on a new stream and return the response once its head arrives.

        Raises:
            ConnectionNotAvailable: The connection is closing, has no stream free, or
                the server refused the stream unprocessed (GOAWAY): retry elsewhere.
            LocalProtocolError: The request cannot be sent as HTTP/2.
            RemoteProtocolError: The server broke the protocol, reset the stream or
                hung up.
            RuntimeError: The request is for another origin.
        """
        url = request.url
        origin = self._origin
        port = url.port
        if port is None:
            port = DEFAULT_PORTS[url.scheme]  # (a KeyError, as url.origin raises)
        if url.scheme != origin.scheme or url.host != origin.host or port != origin.port:
            raise RuntimeError(
                f"Attempted to send request to {url.origin} on connection to {origin}"
            )
        timeout = timeouts(request)
        write_timeout = timeout.get("write")
        read_timeout = timeout.get("read")
        if (
            self._keepalive_ping is not None
            and not self._streams
            and self._request_count
            and time.monotonic() - self._idle_since >= self._keepalive_ping
        ):
            await self._check_alive(read_timeout if read_timeout is not None else PING_TIMEOUT)
        # (tracing_enabled(), inline)
        traced = request.extensions.get("trace") is not None or logger.isEnabledFor(_DEBUG)
        headers = request_headers(request)
        body = request.stream
        end = type(body) is ByteStream and not body._content
        opened = self._open_stream(headers, end)
        while isinstance(opened, H2Stream):
            # Streams beyond the first wait for the server's SETTINGS (its stream limit).
            await self._await_settings(opened, read_timeout)
            opened = self._open_stream(headers, end)
        stream, first = opened
        cut = False  # the server answered before the body was all sent
        try:
            if traced:
                status, headers, cut = await self._traced_exchange(
                    request, stream, first, headers, end, timeout
                )
            else:
                with self._lock:
                    # (_flush()'s first check: a writer busy, and within the backlog
                    # bound, takes our HEADERS along on its next write.)
                    joined = self._writing and not self._over_bound()
                if not joined:
                    await self._flush(write_timeout, owner=stream)
                if not end:
                    cut = await send_body(self, stream, request, headers, write_timeout)
                # The read timeout bounds the wait for the whole head, not each read.
                deadline = head_deadline(read_timeout, request._deadline, time.monotonic())
                status, headers = await self._receive_head(stream, read_timeout, deadline)
        except ConnectionNotAvailable:
            await self._close_stream(stream)
            if not end and type(body) is not ByteStream:
                # Unprocessed (GOAWAY), but a streamed body cannot be sent again.
                raise RemoteProtocolError(
                    "The server refused the stream (GOAWAY or REFUSED_STREAM) after part "
                    "of a streamed request body was sent; it cannot be replayed."
                ) from None
            raise
        except BaseException:
            await self._close_stream(stream)
            raise
        trailers: list[tuple[bytes, bytes]] = []
        chunks = None
        if stream.events:
            chunks, queued = self._finish_early(stream)
            if queued:
                # The window given back made h2 queue a WINDOW_UPDATE. (Frames others
                # queued are theirs to flush: whoever queues a frame flushes.)
                with contextlib.suppress(Exception):  # broken: the response is whole
                    await self._flush(read_timeout)
        if cut:
            if chunks is not None:  # the response is whole already
                await self._end_cut(stream)
                body = AsyncHTTP2Body(
                    self, stream, read_timeout, trailers, request._deadline, chunks
                )
            else:
                body = AsyncHTTP2CutBody(self, stream, read_timeout, trailers, request._deadline)
        else:
            body = AsyncHTTP2Body(self, stream, read_timeout, trailers, request._deadline, chunks)
        return new_response(
            status,
            headers,
            AsyncTracedBody(body, request, logger, stream.id) if traced else body,
            {
                "http_version": b"HTTP/2",
                "network_stream": self._network_stream,
                "stream_id": stream.id,
                "trailers": trailers,
            },
        )

    async def _traced_exchange(
        self,
        request: Request,
        stream: H2Stream,
        first: bool,
        headers: list[tuple[bytes, bytes]],
        end: bool,
        timeout: typing.Mapping[str, float | None],
    ) -> tuple[int, list[tuple[bytes, bytes]], bool]:
        """Send the request and receive its head, reporting the events httpcore
        reports, with its arguments and in its order; and whether the server answered
        before the body was all sent (:func:`send_body`)."""
        write_timeout = timeout.get("write")
        read_timeout = timeout.get("read")
        stream.request = request
        info = {"request": request, "stream_id": stream.id}
        if first:
            async with Trace("send_connection_init", logger, request, {"request": request}):
                await self._flush(write_timeout, owner=stream)
        async with Trace("send_request_headers", logger, request, info):
            await self._flush(write_timeout, owner=stream)
        cut = False
        async with Trace("send_request_body", logger, request, info):
            if not end:
                cut = await send_body(self, stream, request, headers, write_timeout)
        async with Trace("receive_response_headers", logger, request, info) as trace:
            deadline = head_deadline(read_timeout, request._deadline, time.monotonic())
            trace.return_value = await self._receive_head(stream, read_timeout, deadline)
        status, fields = typing.cast("tuple[int, list[tuple[bytes, bytes]]]", trace.return_value)
        return status, fields, cut

    def _open_stream(
        self, headers: list[tuple[bytes, bytes]], end: bool
    ) -> tuple[H2Stream, bool] | H2Stream:
        """Start a stream with the request's HEADERS queued (the preface first, once).

        One section under ``_lock``: h2 hands out a stream id only when HEADERS are
        sent on it, so taking the id and sending must not be split. Until the server's
        SETTINGS arrive, only one stream is open at a time: a server may allow fewer
        than the :data:`INITIAL_MAX_STREAMS` assumed (RFC 9113 section 5.1.2).

        Returns:
            The stream, and whether this request queued the connection preface; or, when
            a stream is open and the server's SETTINGS have not arrived yet, a
            placeholder to wait on for them (:meth:`_await_settings`).
        """
        with self._lock:
            if self._error is not None or self._closed or self._table.draining:
                raise ConnectionNotAvailable()
            if not self._table.settled and self._streams:
                return self._table.await_settings()
            if len(self._streams) >= self._table.max_streams:
                raise ConnectionNotAvailable()
            first = not self._initiated
            self._initiated = True
            try:
                stream = self._table.open(self._h2_state, headers, end, first)
            except H2.h2_error as exc:
                raise self._local_error(exc) from exc
            self._request_count += 1
            self._expire_at = None
            return stream, first

    async def _await_settings(self, placeholder: H2Stream, timeout: float | None) -> None:
        """Wait (reading, if nobody else is) until the server's SETTINGS arrive or the
        connection fails."""
        try:
            await self._wait(placeholder, timeout)
        finally:
            with self._lock:
                self._table.unsettled.pop(placeholder, None)

    async def _receive_head(
        self, stream: H2Stream, timeout: float | None, deadline: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        events = stream.events
        while True:
            # (_next_event(), inline)
            while not events:
                if stream.error is not None:
                    raise stream.error
                await self._wait(stream, timeout, deadline)
            event = events.popleft()
            if type(event) is H2.response:
                break
            if type(event) is H2.reset:
                if event.error_code == _REFUSED_STREAM:
                    # Not processed (RFC 9113 section 8.7): the pool sends it again.
                    raise ConnectionNotAvailable()
                raise reset_error(event)
            # DATA or END_STREAM before any HEADERS: h2 rejects those itself.
        return response_fields(event.headers, head=True)

    # -- reading ----------------------------------------------------------------------

    async def _next_event(
        self, stream: H2Stream, timeout: float | None, deadline: float | None = None
    ) -> typing.Any:
        """The stream's next event; each wait is bounded by ``timeout``, and all of
        them together by ``deadline`` (a ``time.monotonic()`` value), when given."""
        events = stream.events
        while not events:
            if stream.error is not None:
                raise stream.error
            await self._wait(stream, timeout, deadline)
        return events.popleft()

    async def _wait(
        self, stream: H2Stream, timeout: float | None, deadline: float | None = None
    ) -> None:
        """Sleep until the reader signals ``stream``, reading ourselves if nobody is
        (each read or sleep bounded by ``timeout``, all of them by ``deadline``)."""
        while True:
            with self._lock:
                if stream.signalled:
                    stream.signalled = False
                    return
                if stream.error is not None:
                    self._table.pass_reading(self._reading)
                    raise stream.error
                if self._reading:
                    waiter = stream.waiter = self._waiters.create()
                    self._waiting[stream] = None
                else:
                    self._reading = True
                    waiter = None
            if waiter is not None:
                woken = timed_out = False
                signalled: bool = False
                try:
                    woken = await self._waiters.wait(
                        waiter, timeout if deadline is None else time_left(timeout, deadline)
                    )
                    timed_out = not woken
                finally:
                    with self._lock:
                        stream.waiter = None
                        self._waiting.pop(stream, None)
                        # (Signalled just as the wait timed out: woken all the same.)
                        woken = woken or (timed_out and stream.signalled)
                        if not woken:
                            # We may have been handed the socket as we gave up: pass it on.
                            self._table.pass_reading(self._reading)
                        else:
                            # (What the next turn of the loop would find first.)
                            signalled = stream.signalled
                            stream.signalled = False
                if signalled:
                    return
                if not woken:
                    raise ReadTimeout("No data received within the read timeout.")
                continue
            try:
                while not stream.signalled:
                    await self._receive(
                        stream, timeout if deadline is None else time_left(timeout, deadline)
                    )
            finally:
                with self._lock:
                    self._reading = False
                    # Hand the socket to a request that still waits for something.
                    self._table.pass_reading(False)

    async def _receive(self, reader: H2Stream, timeout: float | None) -> None:
        """Read once from the socket and deliver the events (``reader``'s request is
        the reader)."""
        if self._error is not None:
            raise reader.error or self._error
        if self._writing and self._over_bound():
            await self._await_drained(timeout, ReadTimeout, _STUCK_WRITES, reader)
        try:
            data = await self._network_stream.read(READ_NUM_BYTES, timeout)
        except ReadTimeout:
            raise
        except Exception as exc:
            if self._error is not None:  # the socket was closed as the connection broke
                raise (reader.error or self._error) from exc
            self._fail(exc)
            raise
        if not data:
            if self._error is not None:  # EOF as our side closed the socket, once broken
                raise reader.error or self._error
            error = RemoteProtocolError("Server disconnected")
            self._fail(error)
            raise error
        settings: list[typing.Any] | None = None
        with self._lock:
            try:
                events = self._h2_state.receive_data(data)
            except H2.h2_error as exc:
                error = RemoteProtocolError(str(exc) or type(exc).__name__)
                error.__cause__ = exc
                failure: RemoteProtocolError | None = error
            else:
                failure = None
                settings, broken = self._table.dispatch(self._h2_state, events)
                if broken is not None:  # GOAWAY with an error code
                    self._fail(broken)
        if failure is not None:
            # h2 queued a GOAWAY saying why; send it if we can, then give up.
            try:
                await self._flush(timeout)
            except Exception:
                pass
            self._fail(failure)
            raise failure
        if settings and reader.request is not None:
            # As httpcore reports them: to the request that read them.
            for event in settings:
                async with Trace("receive_remote_settings", logger, reader.request) as trace:
                    trace.return_value = event
        await self._flush(timeout, owner=reader)

    # -- writing ----------------------------------------------------------------------

    async def _flush(
        self, timeout: float | None, backpressure: bool = True, owner: H2Stream | None = None
    ) -> None:
        """Send whatever h2 has queued, unless another request is already sending it.

        With ``backpressure``, a request that finds another writing and more than
        :data:`MAX_OUTBOUND_BACKLOG` bytes queued waits (up to ``timeout``) until the
        writer has taken them: what h2 holds stays bounded, whatever the body sizes. When
        that writer was cancelled (:meth:`_retire`), it takes the writing over instead.
        ``owner`` is the caller's stream (see :meth:`_send`).
        """
        while True:
            with self._lock:
                if not self._writing:
                    data = self._take()
                    if not data:
                        return
                    self._writing = True
                    break
                heir = None
                if self._retiring and backpressure and self._over_bound():
                    # We would wait for the writer anyway: wait to take the writing over.
                    self._heirs += 1
                    heir = self._drained = self._drained or AsyncEvent()
            if heir is None:
                # The writer takes our frames along; past the bound, wait until it has.
                if backpressure and self._over_bound():
                    await self._await_drained(timeout, WriteTimeout, _SLOW_WRITES, owner)
                return
            await self._inherit(heir, timeout)
        try:
            while True:
                await self._send(data, timeout, owner)
                with self._lock:
                    data = self._take()
                    if not data:
                        self._writing = False
                        return
        except Exception as exc:
            await self._broken(exc, writer=True)
            error = self._error
            if error is not exc and error is not None:
                # A request that gave up on us closed the socket: the connection's error,
                # as our stream records it (ConnectionNotAvailable for a placeholder).
                if owner is not None and owner.error is not None:
                    error = owner.error
                raise error from exc
            raise
        except BaseException:
            # Cancelled. Cut mid-write, the connection cannot be used any more; between
            # whole writes it can, once what h2 queued meanwhile is sent.
            if self._in_flight:
                await self._broken(RemoteProtocolError(_CUT_WRITE), writer=True)
            else:
                await self._retire(timeout)
            raise

    def _take(self) -> bytes:
        """(Under ``_lock``.) What h2 has queued, for the writer to send."""
        self._wake_drained()  # the last write is done, h2's queue is empty again
        if self._error is not None:
            return b""  # broken: nothing more goes out
        # Every open stream's HEADERS go now, or went before.
        self._wired = self._h2_state.highest_outbound_stream_id
        data: bytes = self._h2_state.data_to_send()
        return data

    async def _send(self, data: bytes, timeout: float | None, owner: H2Stream | None) -> None:
        """One write; shielded from our cancellation (up to ``timeout``, or
        :class:`AsyncWriteShield`) when other streams share the connection, so
        that cancelling one request never leaves a frame half written under the others."""
        self._in_flight = True
        if len(self._streams) > (owner is not None and owner.id in self._streams):
            bound = AsyncWriteShield.timeout if timeout is None else timeout
            await async_shielded(self._write, data, bound)
        else:
            await self._write(data, timeout)

    async def _write(self, data: bytes, timeout: float | None) -> None:
        await self._network_stream.write(data, timeout)
        self._in_flight = False

    async def _retire(self, timeout: float | None) -> None:
        """A writer cancelled between whole writes: send what h2 still queues (other
        requests' frames too), shielded, until it is all gone or a request waits to take
        the writing over (:meth:`_inherit`)."""
        with self._lock:
            data = self._take()
            if not data:
                self._writing = False
                return
            self._retiring = True
        with contextlib.suppress(Exception):  # broken: _broken has recorded it
            await async_shielded(self._drain, data, timeout)

    async def _drain(self, data: bytes, timeout: float | None) -> None:
        try:
            while True:
                bound = AsyncWriteShield.timeout if timeout is None else timeout
                await self._network_stream.write(data, bound)
                with self._lock:
                    data = b"" if self._heirs else self._take()
                    if not data:
                        self._writing = self._retiring = False
                        self._wake_drained()
                        return
        except BaseException as exc:
            cut = RemoteProtocolError(_CUT_WRITE)
            await self._broken(exc if isinstance(exc, Exception) else cut, writer=True)
            raise

    async def _inherit(self, heir: AsyncEvent, timeout: float | None) -> None:
        """Wait (up to ``timeout``) for a retiring writer to finish a write."""
        try:
            woken = await heir.wait(timeout)
        except BaseException:
            with self._lock:
                self._heirs -= 1
                orphaned = not self._writing and outbound_backlog(self._h2_state) > 0
            if orphaned:  # handed over to us as we were cancelled: send it all the same
                await async_shielded(self._flush, _RESET_WRITE_TIMEOUT, False)
            raise
        with self._lock:
            self._heirs -= 1
        if not woken:
            await self._stuck(WriteTimeout(_SLOW_WRITES))

    async def _broken(self, error: Exception, writer: bool = False) -> None:
        """A write failed or was cut short (by the ``writer``), or made no progress
        within a request's timeout: fail the connection (streams none of whose frames
        were taken yet are refused: the pool sends them elsewhere) and close its socket,
        which ends a read or a write still blocked on it."""
        with self._lock:
            if writer:
                self._writing = self._retiring = False
            self._fail(error, self._wired)
            self._wake_drained()
        await self._network_stream.aclose()

    async def _await_drained(
        self,
        timeout: float | None,
        error: type[Exception],
        message: str,
        owner: H2Stream | None = None,
    ) -> None:
        """While a write is in progress and h2 holds more than
        :data:`MAX_OUTBOUND_BACKLOG` bytes, wait until the writer has taken them.

        Raises:
            error: Not within ``timeout``: no write finished meanwhile, the connection's
                writes are stuck (:meth:`_stuck`).
            ConnectionNotAvailable: The write failed and none of the frames of
                ``owner`` (the caller's stream) had been taken: the pool replays it.
            Exception: The write failed after some of them had (the connection's
                error, as its stream records it).
        """
        with self._lock:
            if not self._writing or not self._over_bound():
                return
            drained = self._drained = self._drained or AsyncEvent()
        if not await drained.wait(timeout):
            await self._stuck(error(message))
        if self._error is not None:
            # (Its stream's error: ConnectionNotAvailable when none of its frames left.)
            raise self._error if owner is None or owner.error is None else owner.error

    async def _stuck(self, error: Exception) -> typing.NoReturn:
        """No write finished within a request's timeout: the connection is broken."""
        await self._broken(error)
        raise error

    # -- ending streams ---------------------------------------------------------------

    async def _consume(self, stream: H2Stream, size: int, timeout: float | None) -> None:
        """The body consumed ``size`` flow-controlled bytes: give them back as window."""
        with self._lock:
            self._h2_state.acknowledge_received_data(size, stream.id)
        await self._flush(timeout, owner=stream)

    async def _close_stream(self, stream: H2Stream) -> None:
        """A request failed before its response: abandon its stream, reporting
        ``response_closed`` as httpcore does when the request is traced (only then is
        ``stream.request`` set)."""
        request = stream.request
        if request is not None:
            await async_shielded(self._traced_abandon, stream, request)
        else:
            await self._abandon(stream)

    async def _traced_abandon(self, stream: H2Stream, request: Request) -> None:
        async with Trace("response_closed", logger, request, {"stream_id": stream.id}):
            await self._abandon(stream)

    async def _abandon(self, stream: H2Stream) -> None:
        """Reset a stream the request gave up on, free its slot, and give back the
        connection window its undelivered DATA holds."""
        with self._lock:
            send = self._table.drop(self._h2_state, stream, self._error is None)
            self._touch_idle()
        if send:
            try:
                await async_shielded(self._flush, _RESET_WRITE_TIMEOUT, False)
            except Exception:  # the connection is broken: _fail has recorded it
                pass

    async def _end_cut(self, stream: H2Stream) -> None:
        """The server answered before the request body was all sent and sending stopped
        there; the response has now ended. Reset the stream (RST_STREAM NO_ERROR, as
        RFC 9113 section 8.1 has a server ask for it): the server would otherwise keep
        it open, waiting for the rest of the body, and count it against its stream
        limit (section 5.1.2)."""
        with self._lock:
            if self._error is not None:
                return
            try:
                self._h2_state.reset_stream(stream.id, error_code=_NO_ERROR)
            except H2.h2_error:
                return  # already closed on the wire (the server reset it)
        with contextlib.suppress(Exception):  # broken: _fail has recorded it
            await async_shielded(self._flush, _RESET_WRITE_TIMEOUT, False)

    async def _check_alive(self, timeout: float) -> None:
        """PING an idle connection and wait for the ACK; close it if none comes."""
        ping = self._table.ping = H2Stream(0)
        try:
            with self._lock:
                self._h2_state.ping(_PING_PAYLOAD)
            await self._flush(timeout)
            await self._wait(ping, timeout)
            alive = self._error is None
        except Exception:  # no ACK in time (ReadTimeout), or the connection broke
            alive = False
        finally:
            self._table.ping = None
        if not alive:
            self._closed = True
            raise ConnectionNotAvailable()

    # -- interface ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection (telling the server with GOAWAY when possible)."""
        data = b""
        with self._lock:
            if self._error is None:
                if self._initiated and not self._writing:
                    try:
                        self._h2_state.close_connection()
                        data = self._h2_state.data_to_send()
                    except Exception:  # pragma: no cover - h2 refused: skip the GOAWAY
                        data = b""
                self._fail(RemoteProtocolError("The connection was closed."))
            self._closed = True
        if data:
            try:
                await self._network_stream.write(data, _GOAWAY_WRITE_TIMEOUT)
            except Exception:
                pass
        await self._network_stream.aclose()

    async def __aenter__(self) -> AsyncHTTP2Connection:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()
