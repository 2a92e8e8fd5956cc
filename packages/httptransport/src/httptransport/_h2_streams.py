"""The streams of one HTTP/2 connection, and the delivery of h2's events to them (no I/O).

:class:`StreamTable` is the connection's record of its open streams
(:class:`H2Stream`, one per request) and of the requests asleep waiting for the reader.
The request that reads the socket feeds the bytes to h2 and passes the resulting events
to :meth:`StreamTable.dispatch`, which queues each on its stream and wakes that
stream's request; GOAWAY (RFC 9113 section 6.8), SETTINGS and flow-control updates are
applied here too. Nothing here awaits: waking a request is setting its event, so the
async and the sync connection share this module as is (it is not generated).
"""

from __future__ import annotations

import time
import typing
from collections import deque

from ._exceptions import ConnectionNotAvailable, LocalProtocolError, RemoteProtocolError
from ._h2_adapter import (
    CONNECTION_WINDOW,
    DEFAULT_WINDOW,
    H2,
    MAX_OUTBOUND_BACKLOG,
    outbound_backlog,
)

__all__ = (
    "EARLY_FINISH_MAX",
    "NO_ERROR",
    "AsyncWriteShield",
    "DataChunk",
    "H2ConnectionState",
    "H2Stream",
    "StreamTable",
    "Waker",
    "WriteShield",
)

# GOAWAY error code of a graceful shutdown (RFC 9113 section 7), and RST_STREAM's for a
# stream we no longer want.
NO_ERROR = 0x0
_CANCEL = 0x8
# A response whose whole body (DATA frames, then END_STREAM) came with its head, in at
# most this many bytes, is finished at once (see StreamTable.finish_early).
EARLY_FINISH_MAX = 64 * 1024
# No connection carries more streams than there are stream ids (31 bits, RFC 9113
# section 5.1.1), whatever SETTINGS_MAX_CONCURRENT_STREAMS says.
_STREAM_IDS = 2**31
# The highest stream id there is (RFC 9113 section 5.1.1).
_LAST_STREAM_ID = 2**31 - 1


class AsyncWriteShield:
    """How long a write that the async connection shields from the cancellation of the
    request doing it may take when that request has no write timeout: past it the
    connection is stuck (and closed), and the cancellation goes through."""

    timeout: float | None = 30.0


class WriteShield:
    """The blocking twin of :class:`AsyncWriteShield`: nothing is cancelled there, and a
    request with no write timeout waits as long as the write takes."""

    timeout: float | None = None


class Waker(typing.Protocol):
    """What a sleeping request waits on (a future or an ``AsyncEvent`` on an event loop,
    a blocking ``Event`` in threads), woken by the table's ``wake`` function."""


class DataChunk:
    """Several DATA frames' bytes queued on a stream as one event (in place of h2's
    ``DataReceived``), so that a server sending many tiny frames to a slow reader
    queues bytes, bounded by the stream's flow-control window, not objects."""

    __slots__ = ("data", "flow_controlled_length")

    def __init__(self, data: bytearray, flow_controlled_length: int) -> None:
        self.data = data
        self.flow_controlled_length = flow_controlled_length


class H2Stream:
    """One request's stream: the events the reader delivered and the request's wake-up."""

    __slots__ = ("answered", "blocked", "error", "events", "id", "request", "signalled", "waiter")

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.events: deque[typing.Any] = deque()
        self.signalled = False
        self.waiter: Waker | None = None
        self.blocked = False  # waiting for send window
        self.error: BaseException | None = None
        self.request: typing.Any = None  # its Request, set when the request is traced
        self.answered = False  # its response head arrived


class StreamTable:
    """The open streams of a connection, who sleeps on them, and what limits new ones.

    Args:
        max_streams: The concurrency limit assumed until the server's SETTINGS arrive.
        wake: How to wake a request's waiter.
    """

    __slots__ = (
        "draining",
        "max_streams",
        "ping",
        "settled",
        "streams",
        "unsettled",
        "waiting",
        "wake",
    )

    def __init__(self, max_streams: int, wake: typing.Callable[[typing.Any], None]) -> None:
        # Wakes a waiter (the connection's ``AsyncPoolWaiters.wake`` or ``PoolWaiters.wake``).
        self.wake = wake
        self.streams: dict[int, H2Stream] = {}
        self.waiting: dict[H2Stream, None] = {}  # requests asleep with nothing delivered
        self.max_streams = max_streams
        self.settled = False  # the server's first SETTINGS arrived
        # Requests waiting for them before opening a stream (one placeholder each).
        self.unsettled: dict[H2Stream, None] = {}
        self.draining = False  # GOAWAY received (or sent): no new streams
        self.ping: H2Stream | None = None  # the keep-alive PING awaiting its ACK

    def open(
        self, h2_state: typing.Any, headers: list[tuple[bytes, bytes]], end: bool, first: bool
    ) -> H2Stream:
        """Queue a new stream's HEADERS (after the connection preface when ``first``)
        and record the stream.

        Raises:
            ConnectionNotAvailable: No stream id is left (the connection then drains).
            h2.exceptions.ProtocolError: h2 refused the frames.
        """
        # (h2's get_next_available_stream_id() for a client, without its debug log call.)
        highest = h2_state.highest_outbound_stream_id
        stream_id = highest + 2 if highest else 1
        if stream_id > _LAST_STREAM_ID:
            self.draining = True
            raise ConnectionNotAvailable()
        if first:
            h2_state.initiate_connection()
            h2_state.increment_flow_control_window(CONNECTION_WINDOW - DEFAULT_WINDOW)
        h2_state.send_headers(stream_id, headers, end_stream=end)
        stream = self.streams[stream_id] = H2Stream(stream_id)
        return stream

    def drop(self, h2_state: typing.Any, stream: H2Stream, alive: bool) -> bool:
        """Forget a stream its request gave up on: reset it (RST_STREAM CANCEL) when it
        is still open on the wire, and give back the connection window its undelivered
        DATA holds (without it, enough abandoned bodies would shut the server out).

        Returns:
            Whether frames were queued (none when the connection is not ``alive``).
        """
        owned = self.streams.pop(stream.id, None) is not None
        unread = sum(
            event.flow_controlled_length
            for event in stream.events
            if type(event) is H2.data or type(event) is DataChunk
        )
        stream.events.clear()
        send = False
        if alive:
            if owned:
                try:
                    h2_state.reset_stream(stream.id, error_code=_CANCEL)
                    send = True
                except H2.h2_error:
                    pass  # already closed on the wire (the server ended or reset it)
            if unread:
                # (After the reset: h2 then updates only the connection's window.)
                h2_state.acknowledge_received_data(unread, stream.id)
                send = True
        return send

    def finish_early(self, h2_state: typing.Any, stream: H2Stream) -> list[bytes] | None:
        """When all that is left of ``stream`` after its head is DATA and its end (the
        usual small response, read in one go) and at most :data:`EARLY_FINISH_MAX`
        bytes: free its slot, give the bytes back to the server's window (the caller
        holds them now, as a response read to its end), and return the body's chunks.

        Returns:
            The chunks, or ``None`` when the stream is not finished that way (more to
            come, trailers, a reset, or a larger body): the body then reads it as usual.
        """
        events = stream.events
        if type(events[-1]) is not H2.ended:
            return None
        data_kind = H2.data
        if len(events) == 2:
            # The usual: one DATA frame (or one chunk of them), then the end.
            event = events[0]
            kind = type(event)
            if kind is not data_kind and kind is not DataChunk:
                return None
            data = event.data
            if len(data) > EARLY_FINISH_MAX:
                return None
            flow = event.flow_controlled_length
            chunks = [bytes(data)] if data else []
        else:
            chunks = []
            size = flow = 0
            for index in range(len(events) - 1):
                event = events[index]
                kind = type(event)
                if kind is not data_kind and kind is not DataChunk:
                    return None
                data = event.data
                size += len(data)
                flow += event.flow_controlled_length
                if data:
                    chunks.append(bytes(data))
            if size > EARLY_FINISH_MAX:
                return None
        events.clear()
        self.streams.pop(stream.id, None)
        if flow:
            h2_state.acknowledge_received_data(flow, stream.id)
        return chunks

    def signal(self, stream: H2Stream) -> None:
        """Wake ``stream``'s request (or let it find the signal when it next waits)."""
        stream.signalled = True
        waiter = stream.waiter
        if waiter is not None:
            stream.waiter = None
            self.waiting.pop(stream, None)
            self.wake(waiter)

    def pass_reading(self, reading: bool) -> None:
        """Unless somebody is ``reading``, wake one request asleep waiting for the reader
        so that it reads: the reader stopped, or a request woken to take over from it
        left instead (cancelled, timed out, its stream failed)."""
        if not reading:
            for stream in self.waiting:
                del self.waiting[stream]
                if stream.waiter is not None:
                    self.wake(stream.waiter)
                break

    def await_settings(self) -> H2Stream:
        """A placeholder for a request to wait on until the server's SETTINGS arrive."""
        placeholder = H2Stream(0)
        self.unsettled[placeholder] = None
        return placeholder

    def signal_blocked(self) -> None:
        """Wake every request waiting for send window: the windows changed."""
        for stream in list(self.streams.values()):
            if stream.blocked:
                self.signal(stream)

    def fail(self, error: BaseException, unsent_after: int | None = None) -> None:
        """The connection is broken: fail every stream and wake every request.

        Streams above ``unsent_after`` (none of whose frames were written) fail with
        :class:`ConnectionNotAvailable` instead: the server never saw them, so the pool
        may send them elsewhere.
        """
        for stream in list(self.streams.values()):
            if stream.error is None:
                unsent = unsent_after is not None and stream.id > unsent_after
                stream.error = ConnectionNotAvailable() if unsent else error
            self.signal(stream)
        # (Every other request asleep waits for SETTINGS, or is the keep-alive PING.) A
        # request waiting for SETTINGS has no stream yet, so nothing of it was sent: the
        # one among them that reads the socket must not take the connection's error.
        for placeholder in self.unsettled:
            if placeholder.error is None:
                placeholder.error = ConnectionNotAvailable()
        self.wake_unsettled()
        if self.ping is not None:
            self.signal(self.ping)

    def wake_unsettled(self) -> None:
        """Wake the requests waiting for the server's SETTINGS (each takes its
        placeholder out of ``unsettled`` once it stops waiting, so that :meth:`fail`
        still finds one that was woken but is reading on)."""
        for placeholder in self.unsettled:
            self.signal(placeholder)

    def dispatch(
        self, h2_state: typing.Any, events: list[typing.Any]
    ) -> tuple[list[typing.Any] | None, RemoteProtocolError | None]:
        """Hand each h2 event to its stream.

        Args:
            h2_state: The connection's ``h2.connection.H2Connection``, to give the
                window of dropped DATA back.
            events: What ``receive_data`` returned.

        Returns:
            The SETTINGS changes among the events (for tracing) or ``None``, and the
            error that breaks the whole connection (a GOAWAY with an error code) or
            ``None``.
        """
        streams = self.streams
        settings: list[typing.Any] | None = None
        failure: RemoteProtocolError | None = None
        # (Looked up once per read, not once per event.)
        data_kind = H2.data
        response_kind = H2.response
        ended_kind = H2.ended
        waiting = self.waiting
        wake = self.wake
        for event in events:
            kind = type(event)
            if (
                kind is data_kind
                or kind is response_kind
                or kind is ended_kind
                or kind is H2.trailers
                or kind is H2.reset
            ):
                stream = streams.get(event.stream_id)
                if stream is None:
                    if kind is data_kind:
                        # An abandoned stream: give the bytes back to the connection window.
                        h2_state.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    continue
                queued = stream.events
                if kind is data_kind:
                    if not event.data:
                        # An empty DATA frame carries nothing for the body: queueing it
                        # would let a server grow the queue without limit. Its padding, if
                        # any, is given back to the windows at once.
                        if event.flow_controlled_length:
                            h2_state.acknowledge_received_data(
                                event.flow_controlled_length, event.stream_id
                            )
                        continue
                    if queued:
                        last = queued[-1]
                        if type(last) is DataChunk:
                            last.data += event.data
                            last.flow_controlled_length += event.flow_controlled_length
                            continue  # (already signalled)
                        if type(last) is data_kind:
                            queued[-1] = DataChunk(
                                bytearray(last.data) + event.data,
                                last.flow_controlled_length + event.flow_controlled_length,
                            )
                            continue
                elif kind is response_kind:
                    stream.answered = True  # a GOAWAY can no longer make it retryable
                queued.append(event)
                # (signal(), inline)
                stream.signalled = True
                waiter = stream.waiter
                if waiter is not None:
                    stream.waiter = None
                    waiting.pop(stream, None)
                    wake(waiter)
            elif kind is H2.window:
                if event.stream_id:
                    stream = streams.get(event.stream_id)
                    if stream is not None and stream.blocked:
                        self.signal(stream)
                else:
                    self.signal_blocked()
            elif kind is H2.settings:
                # As httpcore: the server's limit, and never above the one we announce.
                self.max_streams = min(
                    h2_state.remote_settings.max_concurrent_streams,
                    h2_state.local_settings.max_concurrent_streams,
                )
                self.settled = True
                self.wake_unsettled()
                self.signal_blocked()
                if settings is None:
                    settings = []
                settings.append(event)
            elif kind is H2.terminated:
                failure = self.goaway(event) or failure
            elif kind is H2.ping_ack and self.ping is not None:
                self.signal(self.ping)
            # Anything else (1xx heads, SETTINGS acks, PRIORITY...) needs nothing from us.
        return settings, failure

    def goaway(self, event: typing.Any) -> RemoteProtocolError | None:
        """The server is closing the connection (RFC 9113 section 6.8).

        Streams it never processed fail with :class:`ConnectionNotAvailable` (safe to
        send again elsewhere); with an error code the others fail too.

        Returns:
            The error breaking the connection, or ``None`` for a graceful shutdown.
        """
        self.draining = True
        last = event.last_stream_id
        graceful = event.error_code == NO_ERROR
        for stream_id, stream in list(self.streams.items()):
            if stream_id > last and not stream.answered:
                # Never processed: safe to send again elsewhere.
                stream.error = ConnectionNotAvailable()
            elif stream_id > last:
                # Its response was already returned: nothing can be sent again.
                stream.error = RemoteProtocolError(
                    f"The server closed the connection with GOAWAY ({event.error_code!r}) "
                    "before the response ended."
                )
            elif not graceful:
                stream.error = RemoteProtocolError(
                    f"The server closed the connection with GOAWAY ({event.error_code!r})."
                )
            else:
                continue
            del self.streams[stream_id]
            self.signal(stream)
        if graceful:
            return None
        return RemoteProtocolError("The server closed the connection with GOAWAY.")


class H2ConnectionState:
    """What an HTTP/2 connection (async or sync) answers about itself without I/O: its
    capacity, whether it takes requests, its idle time; and the steps of its work that
    never wait (failing, finishing a stream); mixed into both connections."""

    _origin: typing.Any
    _table: StreamTable
    _streams: dict[int, H2Stream]
    _closed: bool
    _error: BaseException | None
    _writing: bool
    _request_count: int
    _idle_since: float
    _expire_at: float | None
    _keepalive_expiry: float | None
    _reading: bool
    _network_stream: typing.Any
    _idle_poll_after: float  # seconds idle before a reuse check polls the socket
    _lock: typing.Any  # AsyncThreadLock or ThreadLock
    _h2_state: typing.Any
    _drained: typing.Any  # (an AsyncEvent or Event) a request waiting for the writer

    @property
    def _max_streams(self) -> int:
        # The stream limit in force, under the name httpcore's own tests read.
        return self._table.max_streams

    def stream_capacity(self) -> int:
        """How many requests it can carry at once (the server's stream limit)."""
        limit = self._table.max_streams
        if 1 <= limit <= _STREAM_IDS:
            return limit
        return 1 if limit < 1 else _STREAM_IDS

    def accepting(self) -> bool:
        """Whether it may take new requests, now or once a stream frees up."""
        return not (self._closed or self._table.draining or self._error is not None)

    def can_handle_request(self, origin: typing.Any) -> bool:
        """Whether ``origin`` is this connection's origin."""
        return bool(origin == self._origin)

    def is_available(self) -> bool:
        """Whether a new stream could start now."""
        return self.accepting() and len(self._streams) < self._table.max_streams

    def has_expired(self) -> bool:
        """Whether it is idle past its keep-alive expiry, or the server closed it."""
        if self._closed or self._error is not None:
            return True
        if self._streams:
            return False
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        return not self._reading and bool(self._network_stream.get_extra_info("is_readable"))

    def keepalive_expired(self, now: float) -> bool:
        """Whether it is idle past its keep-alive expiry (no socket poll)."""
        expire_at = self._expire_at
        return not self._streams and expire_at is not None and now > expire_at

    def usable(self, now: float) -> bool:
        """The pool's cheap reuse check: a stream free, and for an idle connection its
        expiry, and a server close once idle for ``_idle_poll_after`` seconds."""
        if not self.is_available():
            return False
        if self._streams:
            return True
        expire_at = self._expire_at
        if expire_at is not None and now > expire_at:
            return False
        if now - self._idle_since >= self._idle_poll_after and not self._reading:
            # An idle connection may have been closed by the server meanwhile.
            return not self._network_stream.get_extra_info("is_readable")
        return True

    def is_idle(self) -> bool:
        """Whether it is open with no stream in progress."""
        return not self._streams and self.accepting()

    def is_closed(self) -> bool:
        """Whether it is closed (or broken)."""
        return self._closed or self._error is not None

    def _state_name(self) -> str:
        if self.is_closed():
            return "CLOSED"
        return "ACTIVE" if self._streams else "IDLE"

    def info(self) -> str:
        """``'https://example.com:443', HTTP/2, IDLE, Request Count: 1``."""
        origin = str(self._origin)
        return f"{origin!r}, HTTP/2, {self._state_name()}, Request Count: {self._request_count}"

    def __repr__(self) -> str:
        # As httpcore's: the protocol is in the class name, not repeated.
        origin = str(self._origin)
        return (
            f"<{type(self).__name__} [{origin!r}, {self._state_name()}, "
            f"Request Count: {self._request_count}]>"
        )

    def _touch_idle(self) -> None:
        if not self._streams:
            if self._table.unsettled:
                # No SETTINGS yet (a server should send them first): one at a time.
                self._table.wake_unsettled()
            now = time.monotonic()
            self._idle_since = now
            if self._keepalive_expiry is not None:
                self._expire_at = now + self._keepalive_expiry
            if self._table.draining and not self._writing:
                self._closed = True

    def _local_error(self, exc: Exception) -> LocalProtocolError:
        """h2 refused a frame of ours: its state is suspect, so the connection goes."""
        error = LocalProtocolError(str(exc) or type(exc).__name__)
        self._fail(error)
        return error

    def _fail(self, error: BaseException, unsent_after: int | None = None) -> None:
        """The connection is broken: fail every stream and wake every request (streams
        above ``unsent_after`` with :class:`ConnectionNotAvailable`)."""
        if self._error is None:
            self._error = error
        self._closed = True
        self._table.fail(error, unsent_after)

    def _wake_drained(self) -> None:
        drained = self._drained
        if drained is not None:
            self._drained = None
            drained.set()

    def _over_bound(self) -> bool:
        return outbound_backlog(self._h2_state) > MAX_OUTBOUND_BACKLOG

    def _finish(self, stream: H2Stream) -> None:
        """The stream is done (response read to its end): free its slot."""
        with self._lock:
            self._streams.pop(stream.id, None)
            self._touch_idle()

    def _finish_early(self, stream: H2Stream) -> tuple[list[bytes] | None, bool]:
        """The whole (small) body came with the head: finish the stream now and return
        the body's chunks (:meth:`StreamTable.finish_early`), else ``None``; and whether
        giving its window back queued a frame (a WINDOW_UPDATE) for the caller to send."""
        with self._lock:
            h2_state = self._h2_state
            backlog = outbound_backlog(h2_state)
            chunks = self._table.finish_early(h2_state, stream)
            if chunks is None:
                return None, False
            self._touch_idle()
            return chunks, outbound_backlog(h2_state) > backlog
