# Generated from packages/httptransport/src/httptransport/_async/http2_request_body.py by scripts/unasync.py: do not edit.  # noqa: E501
"""Sending an HTTP/2 request's body: :func:`send_body`.

The body goes out in DATA frames as the server's flow-control windows allow (RFC 9113
section 5.2), through its connection (:mod:`.http2`), which queues the frames in h2 and
writes them. A request out of window waits for a WINDOW_UPDATE or SETTINGS change (as
the reader, when nobody else reads). The bytes sent must add up to a declared
``Content-Length`` (RFC 9113 section 8.1.1). Sending stops early, without error, once
the server has answered or reset the stream: the response says what happened (the
connection resets the stream once that response has ended).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable

from .._exceptions import LocalProtocolError, WriteTimeout
from .._h2_adapter import H2, MAX_OUTBOUND_BACKLOG
from .._h2_headers import declared_length
from .._h2_streams import H2Stream
from .._headers import length_mismatch
from .._locks import ThreadLock
from .._models import ByteStream, Request, time_left

__all__ = ("StreamWriter", "send_body")


class StreamWriter(typing.Protocol):
    """What sending a body needs of its connection (an ``HTTP2Connection``)."""

    _lock: ThreadLock
    _h2_state: typing.Any

    def _flush(
        self, timeout: float | None, backpressure: bool = True, owner: H2Stream | None = None
    ) -> None:
        """Write whatever h2 has queued (``owner``: the caller's stream)."""

    def _wait(self, stream: H2Stream, timeout: float | None) -> None:
        """Sleep until ``stream`` is signalled (a window opened, a reply arrived)."""

    def _local_error(self, exc: Exception) -> Exception:
        """The error to raise for a frame h2 refused (it breaks the connection)."""


def send_body(
    conn: StreamWriter,
    stream: H2Stream,
    request: Request,
    fields: list[tuple[bytes, bytes]],
    timeout: float | None,
) -> bool:
    """Send ``request``'s body on ``stream`` and end the stream.

    Returns:
        ``True`` if the server answered (or reset the stream) first: sending stopped
        there, and the stream is not ended on our side (the caller resets it once the
        response has ended).

    Raises:
        LocalProtocolError: The body does not add up to its declared Content-Length.
    """
    body = request.stream
    declared = declared_length(fields)
    sent = 0
    total = request._deadline
    if type(body) is ByteStream:
        # In memory: no async generator to leave half-consumed on an error.
        data = b"".join(body)
        sent = len(data)
        if declared is not None and sent != declared:
            raise LocalProtocolError(length_mismatch(sent, declared))
        if not _send_chunk(conn, stream, data, timeout):
            return True
    else:
        if not isinstance(body, Iterable):
            raise TypeError("a sync connection needs an iterable request body")
        iterator = body.__iter__()
        finished = False
        try:
            for chunk in iterator:
                sent += len(chunk)
                if declared is not None and sent > declared:
                    raise LocalProtocolError(length_mismatch(sent, declared))
                if total is not None:
                    timeout = time_left(timeout, total, WriteTimeout, "the request body was sent")
                if not _send_chunk(conn, stream, chunk, timeout):
                    return True
            finished = True
            if declared is not None and sent != declared:
                raise LocalProtocolError(length_mismatch(sent, declared))
        finally:
            close = getattr(iterator, "close", None)
            if not finished and close is not None:
                close()
    with conn._lock:
        if stream.events:
            return True
        try:
            conn._h2_state.end_stream(stream.id)
        except H2.h2_error as exc:
            raise conn._local_error(exc) from exc
    conn._flush(timeout, owner=stream)
    return False


def _send_chunk(conn: StreamWriter, stream: H2Stream, chunk: bytes, timeout: float | None) -> bool:
    """Send one chunk as the windows allow.

    Returns:
        ``False`` if the server answered (or reset the stream) before the body was all
        sent: sending stops there.
    """
    h2_state = conn._h2_state
    view = memoryview(chunk)
    while view:
        with conn._lock:
            if stream.error is not None:
                raise stream.error
            if stream.events:
                return False
            window = min(
                h2_state.local_flow_control_window(stream.id), len(view), MAX_OUTBOUND_BACKLOG
            )
            if window > 0:
                size = h2_state.max_outbound_frame_size
                try:
                    for start in range(0, window, size):
                        h2_state.send_data(
                            stream.id, view[start : min(window, start + size)].tobytes()
                        )
                except H2.h2_error as exc:
                    raise conn._local_error(exc) from exc
                view = view[window:]
            else:
                stream.blocked = True
        if window > 0:
            conn._flush(timeout, owner=stream)
        else:
            try:
                conn._wait(stream, timeout)
            finally:
                stream.blocked = False
    return True
