"""Body streams with no I/O: :class:`ByteStream`, a body held in memory, and the two
markers of a connection's body that can be read whole in one call.

The models re-export these names (:mod:`httptransport._models`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

__all__ = ("EMPTY_STREAM", "AsyncWholeBody", "ByteStream", "ReceivedBody", "WholeBody")


class ByteStream:
    """A body held in memory, iterable both synchronously and asynchronously.

    It yields its content as one chunk, or nothing at all when empty.
    """

    __slots__ = ("_content",)

    def __init__(self, content: bytes) -> None:
        """Wrap ``content``."""
        self._content = content

    def __iter__(self) -> Iterator[bytes]:
        """Yield the content."""
        if self._content:
            yield self._content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the content."""
        if self._content:
            yield self._content

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{len(self._content)} bytes]>"


class ReceivedBody(ByteStream):
    """A response body that came whole with its head and was taken at once, for a
    ``request()`` that reads it whole anyway: the response is complete (its connection
    free for the next request) when it is returned, with its ``content`` set."""

    __slots__ = ()

    # (what a pool asks of a response's stream: nothing is left to read or release)
    complete = True


# Shared by every request and response without a body; it holds no state.
EMPTY_STREAM = ByteStream(b"")


class AsyncWholeBody:
    """A response body of a connection that can also be read to its end in one call:
    :meth:`Response.aread` and :meth:`Response.aclose` call it directly, without
    iterating it or asking what kind of stream it is, and a pool's ``request()`` does
    both at once (:meth:`read_and_close`)."""

    __slots__ = ()

    async def aread(self) -> bytes:
        """The rest of the body: what iterating it to its end would give."""
        raise NotImplementedError()  # pragma: no cover

    async def aclose(self) -> None:
        """Close the body."""
        raise NotImplementedError()  # pragma: no cover

    async def read_and_close(self) -> bytes:
        """:meth:`aread`, then :meth:`aclose` (also when reading fails); a body may skip
        a close that would do nothing."""
        try:
            content = await self.aread()
        finally:
            await self.aclose()
        return content


class WholeBody:
    """The sync twin of :class:`AsyncWholeBody`, for :meth:`Response.read` and
    :meth:`Response.close`."""

    __slots__ = ()

    def read(self) -> bytes:
        """The rest of the body: what iterating it to its end would give."""
        raise NotImplementedError()  # pragma: no cover

    def close(self) -> None:
        """Close the body."""
        raise NotImplementedError()  # pragma: no cover

    def read_and_close(self) -> bytes:
        """:meth:`read`, then :meth:`close` (also when reading fails); a body may skip
        a close that would do nothing."""
        try:
            content = self.read()
        finally:
            self.close()
        return content
