# Generated from packages/httptransport/src/httptransport/_async/http2.py by scripts/unasync.py: do not edit.  # noqa: E501
"""HTTP/2 over one network stream: :class:`HTTP2Connection`.

Theory of operation
-------------------
One :class:`h2.connection.H2Connection` per network stream holds the whole protocol
state; every call into it is synchronous, so on an event loop no lock is needed around
it (the generated sync connection wraps each such section in a threading lock,
``_state``). Requests run concurrently on the connection, each on its own stream
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
  bytes along on its next loop, so frames of many streams leave in one write.

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

* Failures. An h2 protocol error, EOF or socket error fails every stream with
  :class:`RemoteProtocolError` (or the socket error) and closes the connection;
  errors building our own frames are :class:`LocalProtocolError`. RST_STREAM fails
  only its stream. GOAWAY (section 6.8): streams above ``last_stream_id`` were not
  processed, so their requests raise :class:`ConnectionNotAvailable` and the pool
  replays them on another connection; with ``NO_ERROR`` the others finish normally,
  with an error code they fail. No new stream starts on a connection after GOAWAY.

h2 is an optional dependency: it is imported the first time a connection is created.
"""

from __future__ import annotations

import logging
import re
import time
import typing
from collections import deque
from collections.abc import Iterable

from netbackend_base import Event, NetworkStream, ReadTimeout, shielded

from .._async._pool_logic import PoolLock
from .._exceptions import ConnectionNotAvailable, LocalProtocolError, RemoteProtocolError
from .._models import ByteStream, Origin, Request, Response
from .._trace import NO_TRACE, Trace, tracing_enabled
from .interfaces import ConnectionInterface

__all__ = (
    "CONNECTION_WINDOW",
    "PING_TIMEOUT",
    "STREAM_WINDOW",
    "HTTP2Connection",
    "import_h2",
)

logger = logging.getLogger("httptransport.http2")

READ_NUM_BYTES = 64 * 1024
# Our receive windows: how much the server may send before we acknowledge it. A stream
# whose reader is slow buffers at most STREAM_WINDOW bytes here.
STREAM_WINDOW = 1024 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024
# The concurrency limit assumed until the server's SETTINGS say otherwise (RFC 9113
# section 6.5.2 recommends servers allow at least 100).
INITIAL_MAX_STREAMS = 100
# How long a keep-alive PING waits for its ACK when the request sets no read timeout.
PING_TIMEOUT = 10.0
INSTALL_HINT = "HTTP/2 needs the h2 package: pip install httptransport[http2]"

# Request headers that are connection-specific and must not appear in HTTP/2 (RFC 9113
# section 8.2.2); "te" is allowed with the value "trailers" only.
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)

_token = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+").fullmatch
# Header names seen before, mapped to their lower-case form (checked once each).
_names: dict[bytes, bytes] = {}
_NAMES_MAX = 2048
_SENSITIVE = frozenset((b"authorization", b"proxy-authorization"))
_bad_value = re.compile(rb"[\r\n\x00]|^[ \t]|[ \t]$").search

_h2: typing.Any = None


def import_h2() -> typing.Any:
    """Import h2 (once) and return its ``h2.connection`` module.

    Raises:
        ImportError: h2 is not installed; the message names the extra to install.
    """
    global _h2
    if _h2 is None:
        try:
            import h2.config
            import h2.connection
            import h2.events
            import h2.exceptions
            import h2.settings
            import h2.utilities
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        _h2 = h2
        _Events.bind(h2)
        _Events.machine = _draining_state_machine(h2.connection)
        _Events.connection = _client_connection(h2.connection)
    return _h2.connection


def _client_connection(module: typing.Any) -> typing.Any:
    """h2's connection, with our HPACK decoder and minus a scan of every stream each time
    a request starts.

    The decoder (:class:`~httptransport._hpack.CachingDecoder`) remembers Huffman-decoded
    header values, the largest cost of a response in h2's own.

    h2 counts the open outbound streams (visiting all of them) whenever HEADERS open a
    stream, to enforce SETTINGS_MAX_CONCURRENT_STREAMS. We enforce that limit ourselves
    before opening a stream (``_open_stream``: our streams include every stream h2
    still has open), so h2's count is only needed for the clean-up of closed streams it
    does on the way, which is done every 64 streams instead.
    """
    from .._hpack import CachingDecoder

    base = module.H2Connection

    class ClientConnection(base):  # type: ignore[misc,valid-type]
        _countdown = 0
        decoder: typing.Any

        def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
            super().__init__(*args, **kwargs)
            decoder = CachingDecoder()
            decoder.max_header_list_size = self.decoder.max_header_list_size
            self.decoder = decoder

        @property
        def open_outbound_streams(self) -> int:
            self._countdown -= 1
            if self._countdown <= 0:
                self._countdown = 64
                return int(base.open_outbound_streams.fget(self))
            return 0

    return ClientConnection


def _draining_state_machine(module: typing.Any) -> typing.Any:
    """h2's connection state machine, except that a received GOAWAY leaves it open.

    h2 treats GOAWAY as the end of everything and rejects every later frame, but the
    streams at or below ``last_stream_id`` are still being answered (RFC 9113 section
    6.8). We keep receiving (and sending WINDOW_UPDATE, RST_STREAM) for them, and refuse
    new streams ourselves.
    """
    base = module.H2ConnectionStateMachine
    states = module.ConnectionState
    inputs = module.ConnectionInputs
    transitions = dict(base._transitions)
    transitions[(states.CLIENT_OPEN, inputs.RECV_GOAWAY)] = (None, states.CLIENT_OPEN)
    transitions[(states.IDLE, inputs.RECV_GOAWAY)] = (None, states.CLIENT_OPEN)
    return type("DrainingStateMachine", (base,), {"_transitions": transitions})


class _Events:
    """h2's event classes, bound once h2 is imported (it is optional)."""

    response: typing.Any = None
    data: typing.Any = None
    ended: typing.Any = None
    reset: typing.Any = None
    trailers: typing.Any = None
    window: typing.Any = None
    settings: typing.Any = None
    terminated: typing.Any = None
    ping_ack: typing.Any = None
    h2_error: type[Exception] = Exception
    protocol_error: type[Exception] = Exception
    no_ids: type[Exception] = Exception
    machine: typing.Any = None
    never_indexed: typing.Any = None
    connection: typing.Any = None

    @classmethod
    def bind(cls, h2: typing.Any) -> None:
        events = h2.events
        cls.response = events.ResponseReceived
        cls.data = events.DataReceived
        cls.ended = events.StreamEnded
        cls.reset = events.StreamReset
        cls.trailers = events.TrailersReceived
        cls.window = events.WindowUpdated
        cls.settings = events.RemoteSettingsChanged
        cls.terminated = events.ConnectionTerminated
        cls.ping_ack = events.PingAckReceived
        cls.h2_error = h2.exceptions.H2Error
        cls.protocol_error = h2.exceptions.ProtocolError
        cls.no_ids = h2.exceptions.NoAvailableStreamIDError
        # hpack's tuple type, as h2 re-exports it (hpack is h2's dependency, not ours).
        cls.never_indexed = h2.utilities.NeverIndexedHeaderTuple


class _Stream:
    """One request's stream: the events the reader delivered and the request's wake-up."""

    __slots__ = ("blocked", "error", "events", "id", "signalled", "waiter")

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.events: deque[typing.Any] = deque()
        self.signalled = False
        self.waiter: Event | None = None
        self.blocked = False  # waiting for send window
        self.error: BaseException | None = None


class HTTP2Connection(ConnectionInterface):
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

    def __init__(
        self,
        origin: Origin,
        stream: NetworkStream,
        keepalive_expiry: float | None = None,
        *,
        keepalive_ping: float | None = None,
    ) -> None:
        import_h2()
        h2 = _h2
        self._origin = origin
        self._network_stream = stream
        self._keepalive_expiry = keepalive_expiry
        self._keepalive_ping = keepalive_ping
        # Outgoing headers are checked and normalised by _request_headers (cheaper than
        # h2's generic pass, which was the largest cost of a request after HPACK).
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            # Likewise incoming ones, by _response_fields.
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
        )
        conn = _Events.connection(config=config)
        conn.state_machine = _Events.machine()
        codes = h2.settings.SettingCodes
        conn.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                codes.ENABLE_PUSH: 0,
                codes.MAX_CONCURRENT_STREAMS: 100,
                codes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
            },
        )
        self._h2: typing.Any = conn  # an h2.connection.H2Connection
        self._state = PoolLock()
        self._streams: dict[int, _Stream] = {}
        self._waiting: dict[_Stream, None] = {}  # requests asleep with nothing delivered
        self._reading = False
        self._writing = False
        self._initiated = False
        self._max_streams = INITIAL_MAX_STREAMS
        self._error: BaseException | None = None  # set once the connection is broken
        self._closed = False
        self._draining = False  # GOAWAY received (or sent): no new streams
        self._request_count = 0
        self._idle_since = time.monotonic()
        self._expire_at: float | None = None
        self._ping: _Stream | None = None
        self._touch_idle()

    # -- requests -------------------------------------------------------------------

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` on a new stream and return the response once its head arrives.

        Raises:
            ConnectionNotAvailable: The connection is closing, has no stream free, or
                the server refused the stream unprocessed (GOAWAY): retry elsewhere.
            LocalProtocolError: The request cannot be sent as HTTP/2.
            RemoteProtocolError: The server broke the protocol, reset the stream or
                hung up.
            RuntimeError: The request is for another origin.
        """
        if not self.can_handle_request(request.url.origin):
            raise RuntimeError(
                f"Attempted to send request to {request.url.origin} on connection to {self._origin}"
            )
        timeouts = request.extensions.get("timeout")
        if timeouts:
            write_timeout = timeouts.get("write")
            read_timeout = timeouts.get("read")
        else:
            write_timeout = read_timeout = None
        if (
            self._keepalive_ping is not None
            and not self._streams
            and self._request_count
            and time.monotonic() - self._idle_since >= self._keepalive_ping
        ):
            self._check_alive(read_timeout if read_timeout is not None else PING_TIMEOUT)
        traced = tracing_enabled(request, logger)
        headers = _request_headers(request)
        body = request.stream
        end = type(body) is ByteStream and not b"".join(body)
        stream = self._open_stream(headers, end)
        try:
            with (
                Trace("send_request_headers", logger, request, {"request": request})
                if traced
                else NO_TRACE
            ):
                self._flush(write_timeout)
            if not end:
                with (
                    Trace("send_request_body", logger, request, {"request": request})
                    if traced
                    else NO_TRACE
                ):
                    self._send_body(stream, request, write_timeout)
            with (
                Trace("receive_response_headers", logger, request, {"request": request})
                if traced
                else NO_TRACE
            ) as trace:
                status, headers = self._receive_head(stream, request, read_timeout)
                trace.return_value = (status, headers)
        except ConnectionNotAvailable:
            self._abandon(stream)
            if not end and type(body) is not ByteStream:
                # Unprocessed (GOAWAY), but a streamed body cannot be sent again.
                raise RemoteProtocolError(
                    "The server refused the stream (GOAWAY) after part of a streamed "
                    "request body was sent; it cannot be replayed."
                ) from None
            raise
        except BaseException:
            self._abandon(stream)
            raise
        trailers: list[tuple[bytes, bytes]] = []
        body = _H2Body(self, stream, read_timeout, trailers)
        response = Response(
            status,
            content=_TracedBody(body, request) if traced else body,
            extensions={
                "http_version": b"HTTP/2",
                "network_stream": self._network_stream,
                "stream_id": stream.id,
                "trailers": trailers,
            },
        )
        response.headers = headers
        if stream.events and type(stream.events[-1]) is _Events.ended and len(stream.events) == 1:
            # Headers with END_STREAM: no body at all.
            stream.events.clear()
            body.complete = True
            self._finish(stream)
        return response

    def _open_stream(self, headers: list[tuple[bytes, bytes]], end: bool) -> _Stream:
        """Start a stream with the request's HEADERS queued (the preface first, once).

        One section under ``_state``: h2 hands out a stream id only when HEADERS are
        sent on it, so taking the id and sending must not be split.
        """
        with self._state:
            if self._error is not None or self._closed or self._draining:
                raise ConnectionNotAvailable()
            if len(self._streams) >= self._max_streams:
                raise ConnectionNotAvailable()
            conn = self._h2
            try:
                stream_id = conn.get_next_available_stream_id()
            except _Events.no_ids:
                self._draining = True
                raise ConnectionNotAvailable() from None
            try:
                if not self._initiated:
                    self._initiated = True
                    conn.initiate_connection()
                    conn.increment_flow_control_window(CONNECTION_WINDOW - 65535)
                conn.send_headers(stream_id, headers, end_stream=end)
            except _Events.h2_error as exc:
                raise self._local_error(exc) from exc
            stream = _Stream(stream_id)
            self._streams[stream_id] = stream
            self._request_count += 1
            self._expire_at = None
            return stream

    def _send_body(self, stream: _Stream, request: Request, timeout: float | None) -> None:
        body = request.stream
        if type(body) is ByteStream:
            # In memory: no async generator to leave half-consumed on an error.
            if not self._send_chunk(stream, b"".join(body), timeout):
                return
        else:
            if not isinstance(body, Iterable):
                raise TypeError("a sync connection needs an iterable request body")
            iterator = body.__iter__()
            finished = False
            try:
                for chunk in iterator:
                    if not self._send_chunk(stream, chunk, timeout):
                        return
                finished = True
            finally:
                close = getattr(iterator, "close", None)
                if not finished and close is not None:
                    close()
        with self._state:
            if stream.events:
                return
            try:
                self._h2.end_stream(stream.id)
            except _Events.h2_error as exc:
                raise self._local_error(exc) from exc
        self._flush(timeout)

    def _send_chunk(self, stream: _Stream, chunk: bytes, timeout: float | None) -> bool:
        """Send one chunk of the body as the windows allow (RFC 9113 section 5.2).

        Returns:
            ``False`` if the server answered (or reset the stream) before the body was
            all sent: sending stops there, and the response says what happened.
        """
        conn = self._h2
        view = memoryview(chunk)
        while view:
            with self._state:
                if stream.error is not None:
                    raise stream.error
                if stream.events:
                    return False
                window = min(conn.local_flow_control_window(stream.id), len(view))
                if window > 0:
                    size = conn.max_outbound_frame_size
                    try:
                        for start in range(0, window, size):
                            conn.send_data(
                                stream.id, view[start : min(window, start + size)].tobytes()
                            )
                    except _Events.h2_error as exc:
                        raise self._local_error(exc) from exc
                    view = view[window:]
                else:
                    stream.blocked = True
            if window > 0:
                self._flush(timeout)
            else:
                try:
                    self._wait(stream, timeout)
                finally:
                    stream.blocked = False
        return True

    def _receive_head(
        self, stream: _Stream, request: Request, timeout: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]]]:
        while True:
            event = self._next_event(stream, timeout)
            if type(event) is _Events.response:
                break
            if type(event) is _Events.reset:
                raise _reset_error(event)
            # DATA or END_STREAM before any HEADERS: h2 rejects those itself.
        return _response_fields(event.headers, head=True)

    # -- reading ----------------------------------------------------------------------

    def _next_event(self, stream: _Stream, timeout: float | None) -> typing.Any:
        events = stream.events
        while not events:
            if stream.error is not None:
                raise stream.error
            self._wait(stream, timeout)
        return events.popleft()

    def _wait(self, stream: _Stream, timeout: float | None) -> None:
        """Sleep until the reader signals ``stream``, reading ourselves if nobody is."""
        while True:
            with self._state:
                if stream.signalled:
                    stream.signalled = False
                    return
                if stream.error is not None:
                    raise stream.error
                if self._reading:
                    waiter = stream.waiter = Event()
                    self._waiting[stream] = None
                else:
                    self._reading = True
                    waiter = None
            if waiter is not None:
                try:
                    woken = waiter.wait(timeout)
                finally:
                    with self._state:
                        stream.waiter = None
                        self._waiting.pop(stream, None)
                if not woken:
                    raise ReadTimeout("No data received within the read timeout.")
                continue
            try:
                while not stream.signalled:
                    self._receive(timeout)
            finally:
                with self._state:
                    self._reading = False
                    # Hand the socket to a request that still waits for something.
                    for other in self._waiting:
                        del self._waiting[other]
                        assert other.waiter is not None
                        other.waiter.set()
                        break

    def _receive(self, timeout: float | None) -> None:
        """Read once from the socket and deliver the events (the reader only)."""
        if self._error is not None:
            raise self._error
        try:
            data = self._network_stream.read(READ_NUM_BYTES, timeout)
        except ReadTimeout:
            raise
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._fail(exc)
            raise
        if not data:
            error = RemoteProtocolError("Server disconnected.")
            self._fail(error)
            raise error
        with self._state:
            try:
                events = self._h2.receive_data(data)
            except _Events.h2_error as exc:
                error = RemoteProtocolError(str(exc) or type(exc).__name__)
                error.__cause__ = exc
                failure: RemoteProtocolError | None = error
            else:
                failure = None
                self._dispatch(events)
        if failure is not None:
            # h2 queued a GOAWAY saying why; send it if we can, then give up.
            try:
                self._flush(timeout)
            except Exception:
                pass
            self._fail(failure)
            raise failure
        self._flush(timeout)

    def _dispatch(self, events: list[typing.Any]) -> None:
        """Hand each h2 event to its stream (called under ``_state``)."""
        streams = self._streams
        for event in events:
            kind = type(event)
            if (
                kind is _Events.data
                or kind is _Events.response
                or kind is _Events.ended
                or kind is _Events.trailers
                or kind is _Events.reset
            ):
                stream = streams.get(event.stream_id)
                if stream is None:
                    if kind is _Events.data:
                        # An abandoned stream: give the bytes back to the connection window.
                        self._h2.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    continue
                stream.events.append(event)
                self._signal(stream)
            elif kind is _Events.window:
                if event.stream_id:
                    stream = streams.get(event.stream_id)
                    if stream is not None and stream.blocked:
                        self._signal(stream)
                else:
                    self._signal_blocked()
            elif kind is _Events.settings:
                self._max_streams = self._h2.remote_settings.max_concurrent_streams
                self._signal_blocked()
            elif kind is _Events.terminated:
                self._goaway(event)
            elif kind is _Events.ping_ack:
                ping = self._ping
                if ping is not None:
                    self._signal(ping)
            # Anything else (1xx heads, SETTINGS acks, PRIORITY...) needs nothing from us.

    def _signal(self, stream: _Stream) -> None:
        stream.signalled = True
        waiter = stream.waiter
        if waiter is not None:
            stream.waiter = None
            self._waiting.pop(stream, None)
            waiter.set()

    def _signal_blocked(self) -> None:
        for stream in list(self._streams.values()):
            if stream.blocked:
                self._signal(stream)

    def _goaway(self, event: typing.Any) -> None:
        self._draining = True
        last = event.last_stream_id
        graceful = event.error_code == 0
        for stream_id, stream in list(self._streams.items()):
            if stream_id > last:
                # Never processed (RFC 9113 section 6.8): safe to send again elsewhere.
                stream.error = ConnectionNotAvailable()
            elif not graceful:
                stream.error = RemoteProtocolError(
                    f"The server closed the connection with GOAWAY ({event.error_code!r})."
                )
            else:
                continue
            del self._streams[stream_id]
            self._signal(stream)
        if not graceful:
            self._fail(RemoteProtocolError("The server closed the connection with GOAWAY."))

    def _local_error(self, exc: Exception) -> LocalProtocolError:
        """h2 refused a frame of ours: its state is suspect, so the connection goes."""
        error = LocalProtocolError(str(exc) or type(exc).__name__)
        self._fail(error)
        return error

    def _fail(self, error: BaseException) -> None:
        """The connection is broken: fail every stream and wake every request."""
        if self._error is None:
            self._error = error
        self._closed = True
        for stream in list(self._streams.values()):
            if stream.error is None:
                stream.error = error
            self._signal(stream)
        # (Every request asleep is on one of those streams, or is the keep-alive PING.)
        if self._ping is not None:
            self._signal(self._ping)

    # -- writing ----------------------------------------------------------------------

    def _flush(self, timeout: float | None) -> None:
        """Send whatever h2 has queued, unless another request is already sending it."""
        with self._state:
            if self._writing:
                return
            data = self._h2.data_to_send()
            if not data:
                return
            self._writing = True
        try:
            while True:
                self._network_stream.write(data, timeout)
                with self._state:
                    data = self._h2.data_to_send()
                    if not data:
                        self._writing = False
                        return
        except BaseException as exc:
            # A frame may be half written: the connection cannot be used any more.
            with self._state:
                self._writing = False
                self._fail(exc if isinstance(exc, Exception) else RemoteProtocolError(str(exc)))
            raise

    # -- ending streams ---------------------------------------------------------------

    def _finish(self, stream: _Stream) -> None:
        """The stream is done (response read to its end): free its slot."""
        with self._state:
            self._streams.pop(stream.id, None)
            self._touch_idle()

    def _abandon(self, stream: _Stream) -> None:
        """Reset a stream the request gave up on, and free its slot."""
        with self._state:
            owned = self._streams.pop(stream.id, None) is not None
            self._touch_idle()
            reset = False
            if owned and self._error is None:
                try:
                    self._h2.reset_stream(stream.id, error_code=8)  # CANCEL
                    reset = True
                except _Events.h2_error:
                    # Already closed on the wire (the server ended or reset it).
                    pass
        if reset:
            try:
                shielded(self._flush, None)
            except Exception:  # the connection is broken: _fail has recorded it
                pass

    def _touch_idle(self) -> None:
        if not self._streams:
            now = time.monotonic()
            self._idle_since = now
            if self._keepalive_expiry is not None:
                self._expire_at = now + self._keepalive_expiry
            if self._draining and not self._writing:
                self._closed = True

    def _check_alive(self, timeout: float) -> None:
        """PING an idle connection and wait for the ACK; close it if none comes."""
        ping = self._ping = _Stream(0)
        try:
            with self._state:
                self._h2.ping(b"htkeepal")
            self._flush(timeout)
            try:
                self._wait(ping, timeout)
            except ReadTimeout:
                self._closed = True
                raise ConnectionNotAvailable() from None
            if self._error is not None:
                raise ConnectionNotAvailable()
        except ConnectionNotAvailable:
            raise
        except Exception:
            self._closed = True
            raise ConnectionNotAvailable() from None
        finally:
            self._ping = None

    # -- interface ------------------------------------------------------------------

    def stream_capacity(self) -> int:
        """How many requests it can carry at once (the server's stream limit)."""
        return max(1, min(self._max_streams, 2**31))

    def accepting(self) -> bool:
        """Whether it may take new requests, now or once a stream frees up."""
        return not (self._closed or self._draining or self._error is not None)

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether ``origin`` is this connection's origin."""
        return origin == self._origin

    def is_available(self) -> bool:
        """Whether a new stream could start now."""
        return self.accepting() and len(self._streams) < self._max_streams

    def has_expired(self) -> bool:
        """Whether it is idle past its keep-alive expiry, or the server closed it."""
        if self._closed or self._error is not None:
            return True
        if self._streams:
            return False
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        return not self._reading and bool(self._network_stream.get_extra_info("is_readable"))

    def _expired(self, now: float) -> bool:
        expire_at = self._expire_at
        return not self._streams and expire_at is not None and now > expire_at

    def _usable(self, now: float) -> bool:
        if not self.is_available():
            return False
        if self._streams:
            return True
        expire_at = self._expire_at
        if expire_at is not None and now > expire_at:
            return False
        if now - self._idle_since >= 1.0 and not self._reading:
            # An idle connection may have been closed by the server meanwhile.
            return not self._network_stream.get_extra_info("is_readable")
        return True

    def is_idle(self) -> bool:
        """Whether it is open with no stream in progress."""
        return not self._streams and self.accepting()

    def is_closed(self) -> bool:
        """Whether it is closed (or broken)."""
        return self._closed or self._error is not None

    def info(self) -> str:
        """``'https://example.com:443', HTTP/2, IDLE, Request Count: 1``."""
        origin = str(self._origin)
        if self.is_closed():
            state = "CLOSED"
        elif self._streams:
            state = "ACTIVE"
        else:
            state = "IDLE"
        return f"{origin!r}, HTTP/2, {state}, Request Count: {self._request_count}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"

    def close(self) -> None:
        """Close the connection (telling the server with GOAWAY when possible)."""
        data = b""
        with self._state:
            if self._error is None:
                if self._initiated and not self._writing:
                    try:
                        self._h2.close_connection()
                        data = self._h2.data_to_send()
                    except Exception:  # pragma: no cover - h2 refused: skip the GOAWAY
                        data = b""
                self._fail(RemoteProtocolError("The connection was closed."))
            self._closed = True
        if data:
            try:
                self._network_stream.write(data, 1.0)
            except Exception:
                pass
        self._network_stream.close()

    def __enter__(self) -> HTTP2Connection:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def _reset_error(event: typing.Any) -> RemoteProtocolError:
    return RemoteProtocolError(f"The server reset the stream ({event.error_code!r}).")


def _request_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """The request's HTTP/2 header list: pseudo-headers first, ``:authority`` from Host.

    Does what h2's outbound validation and normalisation would (RFC 9113 section 8.2):
    names lower-cased and checked as tokens, values free of CR, LF, NUL and surrounding
    whitespace, connection-specific fields dropped, and credentials marked never to be
    indexed by HPACK (RFC 7541 section 7.1.3).

    Raises:
        LocalProtocolError: A name or value HTTP/2 cannot carry.
    """
    url = request.url
    authority: bytes | None = None
    fields: list[tuple[bytes, bytes]] = []
    for name, value in request.headers:
        lowered = _names.get(name)
        if lowered is None:
            if _token(name) is None:
                raise LocalProtocolError(f"Invalid HTTP/2 header name {name!r}.")
            lowered = name.lower()
            if len(_names) < _NAMES_MAX:
                _names[name] = lowered
        if value and _bad_value(value) is not None:
            raise LocalProtocolError(f"Invalid HTTP/2 header value for {name!r}.")
        if lowered == b"host":
            if authority is None:
                authority = value
        elif lowered in _CONNECTION_SPECIFIC or (
            lowered == b"te" and value.strip().lower() != b"trailers"
        ):
            continue
        elif lowered in _SENSITIVE:
            fields.append(_Events.never_indexed(lowered, value))
        else:
            fields.append((lowered, value))
    if authority is None:
        authority = url.host if url.port is None else b"%b:%d" % (url.host, url.port)
    method = request.method
    if _token(method) is None:
        raise LocalProtocolError(f"Invalid HTTP/2 method {method!r}.")
    target = url.target
    if not target or _bad_value(target) is not None or b" " in target:
        raise LocalProtocolError(f"Invalid HTTP/2 request target {target!r}.")
    if method == b"CONNECT":
        return [(b":method", method), (b":authority", authority), *fields]
    return [
        (b":method", method),
        (b":authority", authority),
        (b":scheme", url.scheme),
        (b":path", target),
        *fields,
    ]


# Response field names already found valid (RFC 9113 section 8.2: lower-case tokens,
# not connection-specific); names repeat from response to response.
_valid_names: set[bytes] = set()
_lower_token = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-z]+").fullmatch


def _response_fields(
    fields: typing.Iterable[tuple[bytes, bytes]], *, head: bool
) -> tuple[int, list[tuple[bytes, bytes]]]:
    """Check a response head (``head``) or trailer section and split off ``:status``.

    A malformed one (RFC 9113 section 8.1.1) fails the request.

    Raises:
        RemoteProtocolError: The section is malformed.
    """
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name not in _valid_names:
            if name == b":status" and head and not headers and not status:
                if len(value) != 3 or not value.isdigit():
                    raise RemoteProtocolError(f"Malformed :status {value!r}.")
                status = int(value)
                continue
            if _lower_token(name) is None or name in _CONNECTION_SPECIFIC:
                raise RemoteProtocolError(f"Malformed response header name {name!r}.")
            if len(_valid_names) < _NAMES_MAX:
                _valid_names.add(name)
        if value and _bad_value(value) is not None:
            raise RemoteProtocolError(f"Malformed value of response header {name!r}.")
        headers.append((name, value))
    if head and not status:
        raise RemoteProtocolError("Response without a :status.")
    return status, headers


class _H2Body:
    """A response body read from its stream; DATA is acknowledged as it is consumed."""

    __slots__ = ("_conn", "_stream", "_timeout", "_trailers", "complete")

    def __init__(
        self,
        conn: HTTP2Connection,
        stream: _Stream,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
    ) -> None:
        self._conn = conn
        self._stream = stream
        self._timeout = timeout
        self._trailers = trailers
        self.complete = False

    def __iter__(self) -> _H2Body:
        return self

    def __next__(self) -> bytes:
        if self.complete:
            raise StopIteration
        conn = self._conn
        stream = self._stream
        try:
            while True:
                event = conn._next_event(stream, self._timeout)
                kind = type(event)
                if kind is _Events.data:
                    with conn._state:
                        conn._h2.acknowledge_received_data(event.flow_controlled_length, stream.id)
                    conn._flush(self._timeout)
                    if event.data:
                        return bytes(event.data)
                elif kind is _Events.ended:
                    self.complete = True
                    conn._finish(stream)
                    raise StopIteration
                elif kind is _Events.trailers:
                    self._trailers.extend(_response_fields(event.headers, head=False)[1])
                else:  # RST_STREAM
                    raise _reset_error(event)
        except StopIteration:
            raise
        except BaseException:
            self.complete = True
            conn._abandon(stream)
            raise

    def close(self) -> None:
        """Close the body; an unfinished stream is reset (the connection stays open)."""
        if not self.complete:
            self.complete = True
            self._conn._abandon(self._stream)


class _TracedBody:
    """Reports ``receive_response_body`` and ``response_closed`` around a body."""

    __slots__ = ("_inner", "_request", "_trace")

    def __init__(self, inner: _H2Body, request: Request) -> None:
        self._inner = inner
        self._request = request
        self._trace: Trace | None = None

    @property
    def complete(self) -> bool:
        """Whether the inner body has been read to its end."""
        return self._inner.complete

    def __iter__(self) -> _TracedBody:
        return self

    def __next__(self) -> bytes:
        trace = self._trace
        if trace is None:
            request = self._request
            trace = self._trace = Trace(
                "receive_response_body", logger, request, {"request": request}
            )
            trace.__enter__()
        try:
            return self._inner.__next__()
        except StopIteration:
            trace.__exit__(None, None, None)
            raise
        except BaseException as exc:
            trace.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def close(self) -> None:
        """Close the inner body, reporting ``response_closed``."""
        with Trace("response_closed", logger, self._request):
            self._inner.close()
