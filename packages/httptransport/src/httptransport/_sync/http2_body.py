# Generated from packages/httptransport/src/httptransport/_async/http2_body.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The body of an HTTP/2 response: :class:`HTTP2Body`.

It reads its stream's events through the connection (:mod:`.http2`), which delivers
them, and gives each DATA frame's bytes back to the server as flow-control window only
when the caller consumes them (RFC 9113 section 5.2), so a slow reader holds the
server back instead of filling memory. Trailers (RFC 9113 section 8.1) are checked and
appended to the list the response carries as ``extensions["trailers"]``.
"""

from __future__ import annotations

import typing

from .._h2_adapter import H2
from .._h2_headers import reset_error, response_fields
from .._h2_streams import DataChunk
from .._models import WholeBody

__all__ = ("HTTP2Body", "HTTP2CutBody", "StreamOwner")


class StreamOwner(typing.Protocol):
    """What a body needs of its connection (an ``HTTP2Connection``).

    ``stream`` is the connection's own record of the stream, opaque here.
    """

    def _next_event(
        self, stream: typing.Any, timeout: float | None, deadline: float | None = None
    ) -> typing.Any:
        """The stream's next h2 event, reading the socket if nobody else is."""

    def _consume(self, stream: typing.Any, size: int, timeout: float | None) -> None:
        """Give ``size`` consumed bytes back to the server as flow-control window."""

    def _finish(self, stream: typing.Any) -> None:
        """The stream ended normally: free its slot."""

    def _abandon(self, stream: typing.Any) -> None:
        """Reset a stream the request gave up on, and free its slot."""

    def _end_cut(self, stream: typing.Any) -> None:
        """Reset a stream whose request body was cut short by the answer, which ended."""


class HTTP2Body(WholeBody):
    """A response body read from its stream; DATA is acknowledged as it is consumed.

    Ending it early (closing, an error, a cancellation) resets the stream; the
    connection stays open for its other streams. :meth:`read` (what
    ``Response.read`` calls) returns a body that came whole with its head without
    iterating it.
    """

    __slots__ = ("_chunks", "_conn", "_deadline", "_stream", "_timeout", "_trailers", "complete")

    def __init__(
        self,
        conn: StreamOwner,
        stream: typing.Any,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        deadline: float | None = None,
        chunks: list[bytes] | None = None,
    ) -> None:
        self._conn = conn
        # The whole body, when it came with the head (the stream is finished already).
        self._chunks = chunks
        self._deadline = deadline  # the request's total deadline, if any
        self._stream = stream
        self._timeout = timeout
        self._trailers = trailers
        self.complete = chunks is not None
        if chunks:
            chunks.reverse()  # (handed out from the end)

    def __iter__(self) -> HTTP2Body:
        return self

    def __next__(self) -> bytes:
        if self.complete:
            if self._chunks:
                return self._chunks.pop()
            raise StopIteration
        conn = self._conn
        stream = self._stream
        try:
            while True:
                event = conn._next_event(stream, self._timeout, self._deadline)
                kind = type(event)
                if kind is H2.data or kind is DataChunk:
                    conn._consume(stream, event.flow_controlled_length, self._timeout)
                    if event.data:
                        return bytes(event.data)
                elif kind is H2.ended:
                    self.complete = True
                    conn._finish(stream)
                    raise StopIteration
                elif kind is H2.trailers:
                    self._trailers.extend(response_fields(event.headers, head=False)[1])
                else:  # RST_STREAM
                    raise reset_error(event)
        except StopIteration:
            raise
        except BaseException:
            self.complete = True
            conn._abandon(stream)
            raise

    def read(self) -> bytes:
        """The rest of the body, all at once: what iterating it to its end gives."""
        chunks = self._chunks
        if self.complete and chunks is not None:
            if len(chunks) == 1:
                return chunks.pop()
            chunks.reverse()
            data = b"".join(chunks)
            chunks.clear()
            return data
        return b"".join([chunk for chunk in self])

    def close(self) -> None:
        """Close the body; an unfinished stream is reset (the connection stays open)."""
        if not self.complete:
            self.complete = True
            self._conn._abandon(self._stream)


class HTTP2CutBody(HTTP2Body):
    """The body of a response that came before the request body was all sent (sending
    stopped there): once it has ended, the stream is reset, which the server would
    otherwise keep open waiting for the rest of the request body."""

    __slots__ = ("_cut",)

    def __init__(
        self,
        conn: StreamOwner,
        stream: typing.Any,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        deadline: float | None = None,
    ) -> None:
        super().__init__(conn, stream, timeout, trailers, deadline)
        self._cut = True  # the stream is still open on our side

    def __next__(self) -> bytes:
        try:
            return super().__next__()
        except StopIteration:
            if self._cut:
                self._cut = False
                self._conn._end_cut(self._stream)
            raise
