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

import typing
from collections import deque

from ._exceptions import ConnectionNotAvailable, RemoteProtocolError
from ._h2_adapter import H2

__all__ = ("NO_ERROR", "DataChunk", "H2Stream", "StreamTable", "Waker")

# GOAWAY error code of a graceful shutdown (RFC 9113 section 7).
NO_ERROR = 0x0


class Waker(typing.Protocol):
    """How a sleeping request is woken (an ``AsyncEvent`` or a blocking ``Event``)."""

    def set(self) -> None: ...


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
    """

    __slots__ = ("draining", "max_streams", "ping", "settled", "streams", "unsettled", "waiting")

    def __init__(self, max_streams: int) -> None:
        self.streams: dict[int, H2Stream] = {}
        self.waiting: dict[H2Stream, None] = {}  # requests asleep with nothing delivered
        self.max_streams = max_streams
        self.settled = False  # the server's first SETTINGS arrived
        # Requests waiting for them before opening a stream (one placeholder each).
        self.unsettled: dict[H2Stream, None] = {}
        self.draining = False  # GOAWAY received (or sent): no new streams
        self.ping: H2Stream | None = None  # the keep-alive PING awaiting its ACK

    def signal(self, stream: H2Stream) -> None:
        """Wake ``stream``'s request (or let it find the signal when it next waits)."""
        stream.signalled = True
        waiter = stream.waiter
        if waiter is not None:
            stream.waiter = None
            self.waiting.pop(stream, None)
            waiter.set()

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

    def fail(self, error: BaseException) -> None:
        """The connection is broken: fail every stream and wake every request."""
        for stream in list(self.streams.values()):
            if stream.error is None:
                stream.error = error
            self.signal(stream)
        # (Every other request asleep waits for SETTINGS, or is the keep-alive PING.)
        self.wake_unsettled()
        if self.ping is not None:
            self.signal(self.ping)

    def wake_unsettled(self) -> None:
        """Wake the requests waiting for the server's SETTINGS."""
        unsettled = self.unsettled
        while unsettled:
            placeholder, _ = unsettled.popitem()
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
        for event in events:
            kind = type(event)
            if (
                kind is H2.data
                or kind is H2.response
                or kind is H2.ended
                or kind is H2.trailers
                or kind is H2.reset
            ):
                stream = streams.get(event.stream_id)
                if stream is None:
                    if kind is H2.data:
                        # An abandoned stream: give the bytes back to the connection window.
                        h2_state.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    continue
                if kind is H2.response:
                    stream.answered = True  # a GOAWAY can no longer make it retryable
                elif kind is H2.data and not event.data:
                    # An empty DATA frame carries nothing for the body: queueing it would
                    # let a server grow the queue without limit. Its padding, if any, is
                    # given back to the windows at once.
                    if event.flow_controlled_length:
                        h2_state.acknowledge_received_data(
                            event.flow_controlled_length, event.stream_id
                        )
                    continue
                elif kind is H2.data and stream.events:
                    last = stream.events[-1]
                    if type(last) is DataChunk:
                        last.data += event.data
                        last.flow_controlled_length += event.flow_controlled_length
                        continue  # (already signalled)
                    if type(last) is H2.data:
                        stream.events[-1] = DataChunk(
                            bytearray(last.data) + event.data,
                            last.flow_controlled_length + event.flow_controlled_length,
                        )
                        continue
                stream.events.append(event)
                self.signal(stream)
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
