# Generated from packages/httptransport/src/httptransport/_async/http11_body.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The body of an HTTP/1.1 response: :class:`FixedBody` and :class:`H11Body`.

A body is read through its connection (:mod:`.http11`): the bytes already received
beyond the response head wait in the connection's buffer, the rest comes from its
stream. Reading a body to its end ends the connection's request/response cycle (the
connection goes back to idle, or closes when it may not be kept); closing it early, an
error or a cancellation closes the connection, whose stream is then in an unknown state.

* :class:`FixedBody`: the lean path's body, of known length, counted out.
* :class:`H11Body`: a body that h11 frames (chunked, close-delimited, HTTP/1.0...);
  trailers of a chunked body (RFC 9112 section 7.1.2) are appended to the list the
  response carries as ``extensions["trailers"]``, as HTTP/2's are.

A pool that sends a request on an HTTP/1.1 connection of its own gives the body the
connection back to hand in (:meth:`FixedBody.hand_back_to`) instead of wrapping
it: the body then tells the pool when it is done (read to its end: the connection is
released; failed or closed early: it is dropped), in the same order a wrapper would,
with one layer less on every chunk.
"""

from __future__ import annotations

import typing

import h11

from netbackend_base import NetworkStream, shielded

from .._exceptions import LocalProtocolError, RemoteProtocolError, map_exceptions
from .._models import WholeBody, time_left

__all__ = (
    "H11_ERRORS",
    "READ_NUM_BYTES",
    "BodyPool",
    "CycleOwner",
    "FixedBody",
    "H11Body",
)

# How much one read of the stream asks for.
READ_NUM_BYTES = 64 * 1024

# h11's errors, as ours.
H11_ERRORS: dict[type[BaseException], type[Exception]] = {
    h11.LocalProtocolError: LocalProtocolError,
    h11.RemoteProtocolError: RemoteProtocolError,
}


class CycleOwner(typing.Protocol):
    """What a body needs of its connection (an ``HTTP11Connection``)."""

    _buffer: bytes
    _network_stream: NetworkStream

    def _cycle_done(self, keep_alive: bool, leftover: bytes | None = None) -> None:
        """The response ended: keep the connection (with ``leftover`` bytes) or close it."""

    def _end_cycle(self, keep_alive: bool) -> bool:
        """The response ended: go idle and return True, or return False (then the
        connection must be aborted)."""

    def _abort(self) -> None:
        """The cycle failed half-way: close the connection."""


class BodyPool(typing.Protocol):
    """What a body needs of the pool it hands its connection back to (an
    ``ConnectionPool``); ``connection`` is the pool's own connection object."""

    def _release(self, connection: typing.Any) -> typing.Any:
        """The body was read to its end: release the connection; returns one to close."""

    def _discard_active(self, connection: typing.Any) -> typing.Any:
        """The body was closed early: drop the connection; returns one to close."""

    def _drop(self, connection: typing.Any) -> None:
        """Reading the body failed: drop the connection and close it."""


class _PoolHandle:
    """The pool side of a body: hand the connection back exactly once (shared by both
    body classes; the pool, when set, is ``_pool``)."""

    __slots__ = ("_pool", "_pool_conn", "complete")

    _pool: BodyPool | None
    _pool_conn: typing.Any
    complete: bool

    def hand_back_to(self, pool: BodyPool, connection: typing.Any) -> None:
        """Tell ``pool`` when the body is done with ``connection`` (the pool's object)."""
        self._pool_conn = connection
        self._pool = pool

    def _released(self) -> None:
        # Read to its end: the connection goes back to the pool.
        pool = self._pool
        if pool is not None:
            self._pool = None
            to_close = pool._release(self._pool_conn)
            if to_close is not None:
                shielded(to_close.close)

    def _failed(self) -> None:
        # Reading failed (the connection was aborted): the pool drops it.
        pool = self._pool
        if pool is not None:
            self._pool = None
            pool._drop(self._pool_conn)

    def _closed(self, conn: CycleOwner) -> None:
        # Closed by the caller: the pool's bookkeeping first, then the connection.
        pool = self._pool
        to_close = None
        if pool is not None:
            self._pool = None
            if self.complete:
                to_close = pool._release(self._pool_conn)
            else:
                to_close = pool._discard_active(self._pool_conn)
        try:
            if not self.complete:
                self.complete = True
                conn._abort()
        finally:
            if to_close is not None:
                shielded(to_close.close)


class FixedBody(_PoolHandle, WholeBody):
    """A response body of known length, counted out of the buffer and the stream."""

    __slots__ = (
        "_conn",
        "_deadline",
        "_keep_alive",
        "_remaining",
        "_timeout",
    )

    def __init__(
        self,
        conn: CycleOwner,
        length: int,
        keep_alive: bool,
        timeout: float | None,
        deadline: float | None = None,
    ) -> None:
        # (HTTP11Connection builds its bodies with these same lines, inline: keep
        # the two in step)
        self._conn = conn
        self._remaining = length
        self._keep_alive = keep_alive
        self._timeout = timeout
        self._deadline = deadline  # the request's total deadline, if any
        self.complete = False
        self._pool: BodyPool | None = None

    def __iter__(self) -> FixedBody:
        return self

    def __next__(self) -> bytes:
        remaining = self._remaining
        if remaining <= 0:
            # Either finished already, or the body of a 101/CONNECT response: that one
            # is empty, and the connection belongs to whoever holds the response.
            if self._pool is not None:
                self._released()
            raise StopIteration
        conn = self._conn
        try:
            buffer = conn._buffer
            if not buffer:
                timeout = self._timeout
                if self._deadline is not None:
                    timeout = time_left(timeout, self._deadline)
                buffer = conn._network_stream.read(READ_NUM_BYTES, timeout)
                if not buffer:
                    raise RemoteProtocolError(
                        "Server disconnected before the end of the response body "
                        f"({remaining} bytes missing)."
                    )
            if len(buffer) > remaining:
                conn._buffer = buffer[remaining:]
                buffer = buffer[:remaining]
            else:
                conn._buffer = b""
            remaining -= len(buffer)
            self._remaining = remaining
            if remaining == 0:
                self.complete = True
                if not conn._end_cycle(self._keep_alive):
                    conn._abort()
        except BaseException:
            self.complete = True
            try:
                conn._abort()
            finally:
                if self._pool is not None:
                    self._failed()
            raise
        if remaining == 0 and self._pool is not None:
            self._released()
        return buffer

    def read(self) -> bytes:
        """The rest of the body, all at once: what iterating it to its end gives."""
        remaining = self._remaining
        conn = self._conn
        buffer = conn._buffer
        if 0 < remaining <= len(buffer):
            # All of it arrived with the head (or before): no I/O, one slice.
            if len(buffer) > remaining:
                conn._buffer = buffer[remaining:]
                buffer = buffer[:remaining]
            else:
                conn._buffer = b""
            self._remaining = 0
            self.complete = True
            if not conn._end_cycle(self._keep_alive):
                try:
                    conn._abort()
                finally:
                    if self._pool is not None:
                        self._failed()
            pool = self._pool
            if pool is not None:  # (_released(), inline)
                self._pool = None
                to_close = pool._release(self._pool_conn)
                if to_close is not None:
                    shielded(to_close.close)
            return buffer
        if remaining <= 0:
            chunk = b""
        else:
            chunk = self.__next__()
            if self._remaining > 0:
                chunks = [chunk]
                while self._remaining > 0:
                    chunks.append(self.__next__())
                chunk = b"".join(chunks)
        if self._pool is not None:  # (the empty body of a 101 or CONNECT response)
            self._released()
        return chunk

    def read_and_close(self) -> bytes:
        """:meth:`read`, then :meth:`close` unless it would do nothing (the body was
        read to its end and its connection handed back)."""
        remaining = self._remaining
        conn = self._conn
        buffer = conn._buffer
        if 0 < remaining <= len(buffer):
            # read()'s shortcut, the same lines (a call fewer): it leaves nothing to
            # close, the body being complete and the connection handed back even when
            # ending the cycle fails.
            if len(buffer) > remaining:
                conn._buffer = buffer[remaining:]
                buffer = buffer[:remaining]
            else:
                conn._buffer = b""
            self._remaining = 0
            self.complete = True
            if not conn._end_cycle(self._keep_alive):
                try:
                    conn._abort()
                finally:
                    if self._pool is not None:
                        self._failed()
            pool = self._pool
            if pool is not None:
                self._pool = None
                to_close = pool._release(self._pool_conn)
                if to_close is not None:
                    shielded(to_close.close)
            return buffer
        try:
            content = self.read()
        except BaseException:
            self.close()
            raise
        if self._pool is not None or not self.complete:
            self.close()
        return content

    def finish(self) -> None:
        """The whole body has been read: end the cycle."""
        self.complete = True
        self._conn._cycle_done(self._keep_alive)

    def close(self) -> None:
        """Close the body; the connection is closed too unless the body was complete."""
        if self._pool is not None:
            self._closed(self._conn)
        elif not self.complete:
            self.complete = True
            self._conn._abort()


class H11Body(_PoolHandle):
    """A response body that h11 frames (chunked, close-delimited, HTTP/1.0...)."""

    __slots__ = (
        "_conn",
        "_deadline",
        "_h11",
        "_reusable",
        "_timeout",
        "_trailers",
    )

    def __init__(
        self,
        conn: CycleOwner,
        h11_conn: h11.Connection,
        timeout: float | None,
        trailers: list[tuple[bytes, bytes]],
        reusable: bool = True,
        deadline: float | None = None,
    ) -> None:
        self._conn = conn
        self._deadline = deadline
        self._h11 = h11_conn
        self._timeout = timeout
        self._trailers = trailers
        self._reusable = reusable
        self.complete = False
        self._pool: BodyPool | None = None

    def __iter__(self) -> H11Body:
        return self

    def __next__(self) -> bytes:
        if self.complete:
            if self._pool is not None:
                self._released()
            raise StopIteration
        h11_conn = self._h11
        stream = self._conn._network_stream
        try:
            while True:
                with map_exceptions(H11_ERRORS):
                    event = h11_conn.next_event()
                if event is h11.NEED_DATA:
                    timeout = self._timeout
                    if self._deadline is not None:
                        timeout = time_left(timeout, self._deadline)
                    data = stream.read(READ_NUM_BYTES, timeout)
                    # At EOF h11 ends a close-delimited body, and raises for any other.
                    with map_exceptions(H11_ERRORS):
                        h11_conn.receive_data(data)
                    continue
                if isinstance(event, h11.Data):
                    return bytes(event.data)
                break
            # EndOfMessage (or ConnectionClosed for a close-delimited body).
            self.complete = True
            if type(event) is h11.EndOfMessage and event.headers:
                # A chunked body's trailer section, names as the server spelled them.
                self._trailers.extend(event.headers.raw_items())
            leftover, eof = h11_conn.trailing_data
            # A close-delimited body leaves h11 in DONE too: the EOF decides.
            keep_alive = (
                self._reusable
                and not eof
                and h11_conn.our_state is h11.DONE
                and h11_conn.their_state is h11.DONE
            )
            self._conn._cycle_done(keep_alive, bytes(leftover))
        except BaseException:
            self.complete = True
            try:
                self._conn._abort()
            finally:
                if self._pool is not None:
                    self._failed()
            raise
        if self._pool is not None:
            self._released()
        raise StopIteration

    def close(self) -> None:
        """Close the body; the connection is closed too unless the body was complete."""
        if self._pool is not None:
            self._closed(self._conn)
        elif not self.complete:
            self.complete = True
            self._conn._abort()
