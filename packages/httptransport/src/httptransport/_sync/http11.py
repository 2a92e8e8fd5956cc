# Generated from packages/httptransport/src/httptransport/_async/http11.py by scripts/unasync.py: do not edit.  # noqa: E501
"""HTTP/1.1 over one network stream: :class:`HTTP11Connection`.

Theory of operation
-------------------
A connection runs one request/response cycle at a time (``NEW`` -> ``ACTIVE`` ->
``IDLE`` -> ``ACTIVE`` ... -> ``CLOSED``). A cycle takes one of two paths:

* The lean path, for the requests and responses that make up nearly all traffic
  (its heads, with no I/O, are in :mod:`httptransport._h1_head`, shared with the sync
  code). The
  request head is built straight into bytes after a strict check of every header (the
  same rules h11 enforces: token names, no control characters or surrounding
  whitespace in values, a ``Host`` header, and simple framing: one ``Content-Length``
  or ``Transfer-Encoding: chunked``). Head and a small body leave in one write. The
  response head is parsed from the receive buffer by ``parse_head``, which only
  accepts the plain case: an ``HTTP/1.1`` status line that is not 1xx, well-formed
  header lines, and a body framed by one ``Content-Length`` (or none at all, for
  ``HEAD``/204/304). Its body is then counted out of the buffer and the stream.

* h11, for everything else. A request the lean path does not take (``CONNECT``,
  ``Upgrade``, odd framing, or one that is invalid: h11 then raises the precise
  error) runs its whole cycle through a fresh :class:`h11.Connection`. A response
  head the lean parser does not accept (1xx informational responses, which h11 skips
  for us, chunked or close-delimited bodies, HTTP/1.0, obsolete line folding,
  anything malformed) is handed, untouched bytes and all, to a fresh
  :class:`h11.Connection` that has been told which request it answers; h11 then
  parses it, reads its body and reports whether the connection may be kept.

Either way, bytes that arrive beyond the end of a response stay in ``_buffer`` for the
next cycle. Nothing of a cycle outlives it, so the two paths can alternate freely on
one connection.

A reused connection whose server closed it while idle shows up as EOF (or a reset)
before the first byte of the response. When the request may be replayed (an
idempotent method and a body held in memory) this raises
:class:`ConnectionNotAvailable`, and the pool sends the request again on a fresh
connection; otherwise it is the usual :class:`RemoteProtocolError`.

Any failure or cancellation in the middle of a cycle leaves the stream in an unknown
state, so the connection is marked ``CLOSED`` at once (no in between) and its
stream closed shielded from cancellation.
"""

from __future__ import annotations

import enum
import logging
import time
import typing
from collections.abc import Iterable
from typing import Any

import h11

from netbackend_base import (
    NetworkStream,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    shielded,
)

from .._exceptions import (
    ConnectionNotAvailable,
    LocalProtocolError,
    RemoteProtocolError,
    map_exceptions,
)
from .._h1_head import parse_head, prepare_head
from .._headers import length_mismatch
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
from .._streams import EMPTY_STREAM as _EMPTY_STREAM
from .._streams import ReceivedBody
from .._trace import NO_TRACE, NullTrace, Trace
from .http11_body import H11_ERRORS, READ_NUM_BYTES, FixedBody, H11Body
from .interfaces import IDLE_POLL_AFTER, ConnectionInterface
from .traced_body import TracedBody
from .upgrade_stream import HTTP11UpgradeStream

__all__ = ("IDLE_POLL_AFTER", "HTTP11Connection", "HTTPConnectionState")

_new_object = object.__new__

logger = logging.getLogger("httptransport.http11")
_DEBUG = logging.DEBUG
# The logger's own answer cache (level -> enabled), which logging empties in place
# whenever a level changes: a False found there is what isEnabledFor() would answer,
# without the call. (Anything else, or no such cache, asks isEnabledFor().)
_logger_cache: dict[int, bool] = getattr(logger, "_cache", {})

# The largest response head accepted (as httpcore: h11 is told the same).
MAX_HEAD_SIZE = 100 * 1024
# Request bodies up to this size leave in the same write as the head.
_COALESCE_LIMIT = 64 * 1024

_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))


class HTTPConnectionState(enum.IntEnum):
    """Where a connection is in its life."""

    NEW = 0
    ACTIVE = 1
    IDLE = 2
    CLOSED = 3


_NEW = HTTPConnectionState.NEW
_ACTIVE = HTTPConnectionState.ACTIVE
_IDLE = HTTPConnectionState.IDLE
_CLOSED = HTTPConnectionState.CLOSED


class HTTP11Connection(ConnectionInterface):
    """An HTTP/1.1 connection over an open network stream.

    Args:
        origin: Where the stream goes.
        stream: The connected stream (already TLS for https).
        keepalive_expiry: Seconds an idle connection stays reusable; ``None`` for ever.
    """

    READ_NUM_BYTES = READ_NUM_BYTES
    MAX_INCOMPLETE_EVENT_SIZE = MAX_HEAD_SIZE

    def __init__(
        self,
        origin: Origin,
        stream: NetworkStream,
        keepalive_expiry: float | None = None,
    ) -> None:
        self._origin = origin
        self._network_stream = stream
        self._keepalive_expiry = keepalive_expiry
        self._expire_at: float | None = None
        self._idle_since = 0.0
        self._state = _NEW
        self._request_count = 0
        self._buffer = b""
        self._default_port = DEFAULT_PORTS.get(origin.scheme)
        # A request sent ahead (send_ahead()) and not yet taken up by its own task: the
        # request, whether it lets the connection be kept, and its head's read deadline.
        self._ahead: tuple[Request, bool, float | None] | None = None
        # The stream's send_ahead(), if it has one (the asyncio stream does).
        self._stream_send_ahead: Any = getattr(stream, "send_ahead", None)

    # -- requests -------------------------------------------------------------------

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` and return the response once its head has arrived.

        Raises:
            ConnectionNotAvailable: The connection is busy or closed, or it was found
                closed by the server and the request can be retried elsewhere.
            LocalProtocolError: The request is not valid HTTP/1.1.
            RemoteProtocolError: The server broke the protocol or hung up.
            RuntimeError: The request is for another origin.
        """
        url = request.url
        origin = self._origin
        if (
            url.scheme != origin.scheme
            or url.host != origin.host
            or (url.port if url.port is not None else self._default_port) != origin.port
        ):
            raise RuntimeError(
                f"Attempted to send request to {url.origin} on connection to {origin}"
            )
        ahead = None
        if self._state is not _IDLE and self._state is not _NEW:
            ahead = self._ahead
            if ahead is None or ahead[0] is not request:
                raise ConnectionNotAvailable()
            # Sent ahead (send_ahead()): only the response is left to read.
            self._ahead = None
            reused = True
        else:
            self._state = _ACTIVE
            reused = self._request_count > 0
            self._request_count += 1
            self._expire_at = None
        extensions = request.extensions
        timeout = extensions.get("timeout")
        if timeout:
            if "total" in timeout:
                timeout = timeouts(request)
            write_timeout = timeout.get("write")
            read_timeout = timeout.get("read")
        else:  # (as timeouts() would answer for no or empty timeouts)
            write_timeout = read_timeout = None
        # (tracing_enabled(), inline, with isEnabledFor()'s cached answer read first)
        traced = extensions.get("trace") is not None or (
            _logger_cache.get(_DEBUG) is not False and logger.isEnabledFor(_DEBUG)
        )
        try:
            if ahead is None:
                prepared = prepare_head(request)
                if prepared is None:
                    return self._h11_cycle(request, reused, write_timeout, read_timeout, traced)
                head, length, keep_alive = prepared
                body = request.stream
                if not traced and length == 0 and body is _EMPTY_STREAM:
                    # No body (nearly every GET): the head alone, as _send_lean would.
                    try:
                        self._network_stream.write(head, write_timeout)
                    except WriteError:
                        pass
                else:
                    self._send_lean(request, head, length, write_timeout, traced)
                # The read timeout bounds the wait for the whole head, not each read.
                deadline = request._deadline  # (as head_deadline(), without the call)
                if read_timeout is not None:
                    head_end = _clock() + read_timeout
                    if deadline is None or head_end < deadline:
                        deadline = head_end
            else:
                _, keep_alive, deadline = ahead
            if traced:
                with Trace(
                    "receive_response_headers", logger, request, {"request": request}
                ) as trace:
                    parsed = self._receive_head(request, reused, deadline)
                    if parsed is None:
                        return self._h11_cycle(
                            request,
                            reused,
                            write_timeout,
                            read_timeout,
                            traced,
                            head_trace=trace,
                            keep_alive=keep_alive,
                            deadline=deadline,
                        )
                    trace.return_value = (b"HTTP/1.1", parsed[0], parsed[1], parsed[2])
            else:
                buffer = self._buffer
                if not buffer:
                    # (_receive_head()'s first read, inline: it usually brings the whole
                    # head, which is then parsed here without another call)
                    try:
                        buffer = self._network_stream.read(
                            READ_NUM_BYTES, None if deadline is None else _time_left(deadline)
                        )
                    except ReadError:
                        if not _replayable(request, reused):
                            raise
                        buffer = b""
                    if not buffer:
                        self._disconnected_before_response(request, reused)
                    self._buffer = buffer
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    parsed = self._receive_head(request, reused, deadline)
                else:
                    parsed = parse_head(buffer[:end], request.method)
                    if parsed is not None:
                        self._buffer = buffer[end + 4 :]
                if parsed is None:
                    return self._h11_cycle(
                        request,
                        reused,
                        write_timeout,
                        read_timeout,
                        traced,
                        head_trace=NO_TRACE,
                        keep_alive=keep_alive,
                        deadline=deadline,
                    )
            status, reason, headers, body_length, response_keep_alive = parsed
            # new_response(status, headers, body, extensions), inline (no call):
            response: Response = _new_object(Response)
            response.status = status
            response.headers = headers
            response.extensions = {
                "http_version": b"HTTP/1.1",
                "reason_phrase": reason,
                "network_stream": self._network_stream,
                "trailers": [],
            }
            buffer = self._buffer
            if request._whole and 0 < body_length <= len(buffer) and not traced:
                # request() reads the body at once, and all of it came with the head:
                # take it now. The response is complete (the connection is free) as it
                # is returned, with nothing left to read or close.
                if len(buffer) > body_length:
                    self._buffer = buffer[body_length:]
                    buffer = buffer[:body_length]
                else:
                    self._buffer = b""
                if not self._end_cycle(keep_alive and response_keep_alive):
                    self._abort()  # (bytes beyond the body: not reused)
                received: ReceivedBody = _new_object(ReceivedBody)
                received._content = buffer
                response.stream = received
                response._content = buffer
                response._stream_consumed = True
                return response
            # FixedBody(self, body_length, keep_alive and response_keep_alive,
            # read_timeout, request._deadline), its __init__ inline (no call):
            fixed: FixedBody = _new_object(FixedBody)
            fixed._conn = self
            fixed._remaining = body_length
            fixed._keep_alive = keep_alive and response_keep_alive
            fixed._timeout = read_timeout
            fixed._deadline = request._deadline
            fixed.complete = False
            fixed._pool = None
            response.stream = TracedBody(fixed, request, logger) if traced else fixed
            response._content = None
            response._stream_consumed = False
            if body_length == 0:
                fixed.finish()
            return response
        except BaseException:
            if traced:
                # As httpcore reports a failed exchange: the response is closed too.
                shielded(self._traced_abort, request)
            else:
                self._abort()
            raise

    def send_ahead(
        self, request: Request, waiter: Any, timeout: float | None
    ) -> bool:  # pragma: no cover (only async code gets here)
        """Send ``request`` now, on behalf of the task that made it, which waits on
        ``waiter`` (a future) for the pool to hand it this connection.

        The pool calls this as it hands the connection, just gone idle, to that queued
        request. The stream wakes ``waiter`` when the response starts to arrive, so the
        request's task is woken once, not twice (once to send, once to read), and its
        ``handle_request()`` then only reads the response. Only the common case
        is sent ahead: a request with no body taking the lean path, untraced, on a
        stream that can write at once and wake a future (``send_ahead`` of the asyncio
        stream). ``timeout`` is the request's read timeout: the response head's
        deadline counts from now.

        Returns:
            Whether it was sent (otherwise nothing was done).
        """
        # (Idle just now, by the response the pool is releasing it for: no keep-alive
        # expiry or server close to check, as usable() would for a connection that
        # waited.)
        if (
            self._state is not _IDLE
            or request.stream is not _EMPTY_STREAM
            or request.extensions.get("trace") is not None
            or (_logger_cache.get(_DEBUG) is not False and logger.isEnabledFor(_DEBUG))
        ):
            return False
        send = self._stream_send_ahead
        if send is None:
            return False
        prepared = prepare_head(request)
        if prepared is None or prepared[1] != 0:
            return False
        head, _, keep_alive = prepared
        if not send(head, waiter):
            return False
        self._state = _ACTIVE
        self._request_count += 1
        self._expire_at = None
        self._ahead = (request, keep_alive, None if timeout is None else _clock() + timeout)
        return True

    def _send_lean(
        self,
        request: Request,
        head: bytes,
        length: int,
        timeout: float | None,
        traced: bool,
    ) -> None:
        """Send the request; a write failure is not raised (see below)."""
        stream = self._network_stream
        body = request.stream
        try:
            if type(body) is ByteStream:
                content = body._content
                if length >= 0 and len(content) != length:
                    raise LocalProtocolError(length_mismatch(len(content), length))
                if length < 0 and content:
                    content = b"%x\r\n%b\r\n0\r\n\r\n" % (len(content), content)
                elif length < 0:
                    content = b"0\r\n\r\n"
                if not traced and len(content) <= _COALESCE_LIMIT:
                    stream.write(head + content, timeout)
                    return None
                with (
                    Trace("send_request_headers", logger, request, {"request": request})
                    if traced
                    else NO_TRACE
                ):
                    stream.write(head, timeout)
                with (
                    Trace("send_request_body", logger, request, {"request": request})
                    if traced
                    else NO_TRACE
                ):
                    stream.write(content, timeout)
                return None
            with (
                Trace("send_request_headers", logger, request, {"request": request})
                if traced
                else NO_TRACE
            ):
                stream.write(head, timeout)
            with (
                Trace("send_request_body", logger, request, {"request": request})
                if traced
                else NO_TRACE
            ):
                self._send_body_chunks(body, length, timeout, request._deadline)
        except WriteError:
            # The server may have answered early and closed (413, say): read the
            # response; without one, the request fails as a disconnect (as in httpcore).
            pass

    def _send_body_chunks(
        self, body: typing.Any, length: int, write_timeout: float | None, total: float | None
    ) -> None:
        stream = self._network_stream
        sent = 0
        if not isinstance(body, Iterable):
            raise TypeError("a sync connection needs an iterable request body")
        timeout = write_timeout
        for chunk in body:
            if not chunk:
                continue
            if total is not None:
                timeout = time_left(write_timeout, total, WriteTimeout, "the request body was sent")
            sent += len(chunk)
            if length < 0:
                stream.write(b"%x\r\n%b\r\n" % (len(chunk), chunk), timeout)
            elif sent > length:
                raise LocalProtocolError(length_mismatch(sent, length))
            else:
                stream.write(chunk, timeout)
        if length < 0:
            stream.write(b"0\r\n\r\n", timeout)
        elif sent != length:
            raise LocalProtocolError(length_mismatch(sent, length))

    def _receive_head(
        self,
        request: Request,
        reused: bool,
        deadline: float | None,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], int, bool] | None:
        buffer = self._buffer
        stream = self._network_stream
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if b"\n\n" in buffer or len(buffer) > MAX_HEAD_SIZE:
                self._buffer = buffer
                return None
            try:
                data = stream.read(
                    READ_NUM_BYTES, None if deadline is None else _time_left(deadline)
                )
            except ReadError:
                # A reset before any byte of the response: on a reused connection the
                # server closed it while idle, and the request may be retried.
                if buffer or not _replayable(request, reused):
                    raise
                data = b""
            if not data:
                if buffer:
                    raise RemoteProtocolError(
                        "Server disconnected in the middle of the response head."
                    )
                self._disconnected_before_response(request, reused)
            buffer += data
        parsed = parse_head(buffer[:end], request.method)
        if parsed is None:
            self._buffer = buffer
            return None
        self._buffer = buffer[end + 4 :]
        return parsed

    def _disconnected_before_response(self, request: Request, reused: bool) -> typing.NoReturn:
        if _replayable(request, reused):
            raise ConnectionNotAvailable(
                "The server closed the idle connection; the request can be retried."
            )
        raise RemoteProtocolError("Server disconnected without sending a response.")

    # -- the h11 path ---------------------------------------------------------------

    def _h11_cycle(
        self,
        request: Request,
        reused: bool,
        write_timeout: float | None,
        read_timeout: float | None,
        traced: bool,
        head_trace: Trace | NullTrace | None = None,
        keep_alive: bool = True,
        deadline: float | None = None,
    ) -> Response:
        """One request/response cycle through h11.

        With ``head_trace``, the request has already left by the lean path and the
        response head is being read inside that trace: h11 is brought to the same
        point (told of the request's ``Connection: close`` when ``keep_alive`` is
        false, so the connection is not reused), and the head it parses is that
        trace's return value.
        """
        sent = head_trace is not None
        conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        stream = self._network_stream
        if sent:
            # The request already left by the lean path: bring h11 to the same point.
            headers = (
                [(b"Host", b"x")] if keep_alive else [(b"Host", b"x"), (b"Connection", b"close")]
            )
            conn.send(h11.Request(method=request.method, target=b"/", headers=headers))
            conn.send(h11.EndOfMessage())
        else:
            names = {name.lower() for name, _ in request.headers}
            if b"content-length" in names and b"transfer-encoding" in names:
                # RFC 9112 section 6.2: a sender must not send both (h11 would).
                raise LocalProtocolError(
                    "A request cannot have both Content-Length and Transfer-Encoding."
                )
            try:
                with (
                    Trace("send_request_headers", logger, request, {"request": request})
                    if traced
                    else NO_TRACE
                ):
                    with map_exceptions(H11_ERRORS):
                        data = conn.send(
                            h11.Request(
                                method=request.method,
                                target=request.url.target,
                                headers=request.headers,
                            )
                        )
                    stream.write(data, write_timeout)
                with (
                    Trace("send_request_body", logger, request, {"request": request})
                    if traced
                    else NO_TRACE
                ):
                    request_body = request.stream
                    if not isinstance(request_body, Iterable):
                        raise TypeError("a sync connection needs an iterable request body")
                    for chunk in request_body:
                        with map_exceptions(H11_ERRORS):
                            data = conn.send(h11.Data(data=chunk))
                        stream.write(data, write_timeout)
                    with map_exceptions(H11_ERRORS):
                        data = conn.send(h11.EndOfMessage())
                    stream.write(data, write_timeout)
            except WriteError:
                # As on the lean path: read whatever the server answered.
                pass
        with (
            Trace("receive_response_headers", logger, request, {"request": request})
            if traced and not sent
            else NO_TRACE
        ) as own_trace:
            trace = own_trace if head_trace is None else head_trace
            if deadline is None:
                deadline = head_deadline(read_timeout, request._deadline, _clock())
            if self._buffer:  # (an empty receive_data would mean EOF to h11)
                conn.receive_data(self._buffer)
                self._buffer = b""
            got_bytes = False
            while True:
                with map_exceptions(H11_ERRORS):
                    event = conn.next_event()
                if event is h11.NEED_DATA:
                    try:
                        data = stream.read(READ_NUM_BYTES, _time_left(deadline))
                    except ReadError:
                        if got_bytes or conn.trailing_data[0] or not _replayable(request, reused):
                            raise
                        data = b""
                    if not data and not got_bytes and not conn.trailing_data[0]:
                        self._disconnected_before_response(request, reused)
                    got_bytes = got_bytes or bool(data)
                    with map_exceptions(H11_ERRORS):
                        conn.receive_data(data)
                    continue
                got_bytes = True
                if isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                    continue
                break
            if isinstance(event, h11.ConnectionClosed):
                raise RemoteProtocolError("Server disconnected without sending a response.")
            response_event = typing.cast("h11.Response | h11.InformationalResponse", event)
            headers = list(response_event.headers.raw_items())
            trace.return_value = (
                b"HTTP/" + response_event.http_version,
                response_event.status_code,
                response_event.reason,
                headers,
            )
        trailers: list[tuple[bytes, bytes]] = []
        extensions: dict[str, typing.Any] = {
            "http_version": b"HTTP/" + response_event.http_version,
            "reason_phrase": response_event.reason,
            "network_stream": stream,
            "trailers": trailers,
        }
        body: H11Body | FixedBody
        if conn.their_state is h11.SWITCHED_PROTOCOL:
            leftover, _ = conn.trailing_data
            extensions["network_stream"] = HTTP11UpgradeStream(stream, leftover)
            body = FixedBody(self, 0, False, read_timeout)
        else:
            # RFC 9112 section 6.3, rule 3: a response with both Content-Length and
            # Transfer-Encoding may be an attempt at request smuggling; h11 reads it by
            # its Transfer-Encoding, but the connection must not be reused after it.
            names = {name.lower() for name, _ in headers}
            reusable = not (b"content-length" in names and b"transfer-encoding" in names)
            body = H11Body(self, conn, read_timeout, trailers, reusable, request._deadline)
        return new_response(
            response_event.status_code,
            headers,
            TracedBody(body, request, logger) if traced else body,
            extensions,
        )

    # -- state ----------------------------------------------------------------------

    def _traced_abort(self, request: Request) -> None:
        with Trace("response_closed", logger, request):
            self._abort()

    def _abort(self) -> None:
        """Give up on the connection: mark it closed, then close the stream shielded."""
        self._state = _CLOSED
        shielded(self._network_stream.close)

    def _cycle_done(self, keep_alive: bool, leftover: bytes | None = None) -> None:
        if leftover is not None:
            self._buffer = leftover
        if not self._end_cycle(keep_alive):
            self._abort()

    def _end_cycle(self, keep_alive: bool) -> bool:
        """The response ended: go idle if the connection may be kept, and say so (else
        the caller must ``_abort()`` it)."""
        if keep_alive and not self._buffer and self._state is _ACTIVE:
            now = time.monotonic()
            self._state = _IDLE
            self._idle_since = now
            if self._keepalive_expiry is not None:
                self._expire_at = now + self._keepalive_expiry
            return True
        # Bytes the server sent beyond the response are a protocol violation; never
        # reuse such a connection.
        return False

    def close(self) -> None:
        """Close the connection and its stream."""
        self._state = _CLOSED
        self._network_stream.close()

    # -- interface ------------------------------------------------------------------

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether ``origin`` is this connection's origin."""
        return origin == self._origin

    def is_available(self) -> bool:
        """Whether it is idle (HTTP/1.1 takes one request at a time)."""
        return self._state is _IDLE

    def has_expired(self) -> bool:
        """Whether it is past its keep-alive expiry, or idle and closed by the server.

        As httpcore's: a connection closed after an error has no expiry to be past
        (``is_closed()`` says it is closed).
        """
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        return self._state is _IDLE and bool(self._network_stream.get_extra_info("is_readable"))

    def keepalive_expired(self, now: float) -> bool:
        """Whether its keep-alive expiry has passed (no socket poll)."""
        expire_at = self._expire_at
        return expire_at is not None and now > expire_at

    def usable(self, now: float) -> bool:
        """The pool's cheap reuse check: expiry always, a server close only when idle
        for a while (a fresh connection that the server closed is caught by the
        retry instead)."""
        if self._state is not _IDLE:
            return False
        expire_at = self._expire_at
        if expire_at is not None and now > expire_at:
            return False
        if now - self._idle_since >= IDLE_POLL_AFTER:
            return not self._network_stream.get_extra_info("is_readable")
        return True

    def is_idle(self) -> bool:
        """Whether it is open with no request in progress."""
        return self._state is _IDLE

    def is_closed(self) -> bool:
        """Whether it is closed."""
        return self._state is _CLOSED

    def info(self) -> str:
        """``'https://example.com:443', HTTP/1.1, IDLE, Request Count: 1``."""
        origin = str(self._origin)
        return f"{origin!r}, HTTP/1.1, {self._state.name}, Request Count: {self._request_count}"

    def __repr__(self) -> str:
        origin = str(self._origin)
        return (
            f"<{type(self).__name__} [{origin!r}, {self._state.name}, "
            f"Request Count: {self._request_count}]>"
        )

    def __enter__(self) -> HTTP11Connection:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


# The clock the response head's deadline is kept by (a name of this module's own, so a
# test can drive it without touching the event loop's clock).
_clock = time.monotonic


def _time_left(deadline: float | None) -> float | None:
    """The read timeout left until ``deadline`` (``None``: no deadline).

    Raises:
        ReadTimeout: The deadline has passed: the whole response head took too long,
            however steadily its bytes came.
    """
    if deadline is None:
        return None
    left = deadline - _clock()
    if left <= 0:
        raise ReadTimeout("Timed out waiting for the whole response head.")
    return left


def _replayable(request: Request, reused: bool) -> bool:
    """Whether a request that found its reused connection closed may be sent again on
    another: an idempotent method with a body held in memory."""
    return reused and request.method in _IDEMPOTENT and type(request.stream) is ByteStream
