"""The two interfaces of the async layer: anything that sends requests, and connections.

:class:`AsyncRequestInterface` gives every pool and connection the convenience
methods ``request()`` and ``stream()`` on top of the one method each implements,
``handle_async_request()``. :class:`AsyncConnectionInterface` adds what a pool asks of
a connection to decide whether it can take a request.

The pool asks a connection nothing that this interface does not declare. httpcore's
methods (``can_handle_request``, ``is_available``, ``has_expired``, ``is_idle``,
``is_closed``, ``info``) are required; four more have defaults built from those, so a
connection class written for httpcore works in our pool as it is, and ours override
them with cheaper or more precise answers:

* :meth:`~AsyncConnectionInterface.stream_capacity`: how many requests at once (1);
* :meth:`~AsyncConnectionInterface.accepting`: whether it takes new requests at all;
* :meth:`~AsyncConnectionInterface.usable`: whether an idle one may be reused now;
* :meth:`~AsyncConnectionInterface.keepalive_expired`: whether its keep-alive expiry
  has passed, without looking at the socket.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable

from .._models import (
    URL,
    AsyncWholeBody,
    Extensions,
    HeaderTypes,
    Origin,
    Request,
    Response,
    build_request,
)
from .._streams import ReceivedBody

__all__ = ("IDLE_POLL_AFTER", "AsyncConnectionInterface", "AsyncRequestInterface")

# An idle connection is checked for a close by the server (a readability poll) before
# reuse only when it has been idle at least this long: a fresher one is simply used, and
# if the server did close it, the request is retried on a new connection.
IDLE_POLL_AFTER = 1.0


class AsyncRequestInterface:
    """Something that sends a :class:`Request` and returns a :class:`Response`."""

    async def request(
        self,
        method: bytes | str,
        url: URL | bytes | str,
        *,
        headers: HeaderTypes = None,
        content: bytes | AsyncIterable[bytes] | Iterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> Response:
        """Send a request and read the whole response body.

        ``Host`` and the body's framing header are added when missing.

        Returns:
            The response, with its body read (``response.content``) and closed.
        """
        request = build_request(method, url, headers, content, extensions, True)
        response = await self.handle_async_request(request)
        stream = response.stream
        if type(stream) is ReceivedBody:
            return response  # (read, its connection handed back, when it was returned)
        if (
            type(response) is Response
            and isinstance(stream, AsyncWholeBody)
            and response._content is None
            and not response._stream_consumed
        ):
            # What response.aread() and response.aclose() below do, in one call.
            response._stream_consumed = True
            response._content = await stream.read_and_close()
            return response
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: bytes | str,
        url: URL | bytes | str,
        *,
        headers: HeaderTypes = None,
        content: bytes | AsyncIterable[bytes] | Iterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request; the body streams inside the ``async with`` block.

        The response is closed (its connection released) when the block exits.
        """
        request = build_request(method, url, headers, content, extensions)
        response = await self.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` and return the response once its head has arrived.

        The caller must close the response (``await response.aclose()``).
        """
        raise NotImplementedError()  # pragma: no cover


class AsyncConnectionInterface(AsyncRequestInterface):
    """A connection to one origin, as a pool sees it."""

    async def aclose(self) -> None:
        """Close the connection."""
        raise NotImplementedError()  # pragma: no cover

    def info(self) -> str:
        """Describe the connection in one line (origin, protocol, state, requests)."""
        raise NotImplementedError()  # pragma: no cover

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether this connection goes to ``origin``."""
        raise NotImplementedError()  # pragma: no cover

    def is_available(self) -> bool:
        """Whether it could take a request right now."""
        raise NotImplementedError()  # pragma: no cover

    def has_expired(self) -> bool:
        """Whether it is idle and must not be reused (keep-alive expiry passed, or the
        server closed it)."""
        raise NotImplementedError()  # pragma: no cover

    def is_idle(self) -> bool:
        """Whether it is open with no request in progress."""
        raise NotImplementedError()  # pragma: no cover

    def is_closed(self) -> bool:
        """Whether it is closed (or failed to connect)."""
        raise NotImplementedError()  # pragma: no cover

    # What the pool asks beyond httpcore's interface: defaults built from the above.

    def stream_capacity(self) -> int:
        """How many requests it can carry at once (re-read by the pool after each one).

        Defaults to 1; an HTTP/2 connection reports the server's stream limit.
        """
        return 1

    def accepting(self) -> bool:
        """Whether it may take new requests, now or once one in progress is done.

        ``False`` retires it from the pool once its requests are done (closed, failed,
        or draining after GOAWAY). Defaults to ``not self.is_closed()``.
        """
        return not self.is_closed()

    def usable(self, now: float) -> bool:
        """Whether the pool may hand this idle connection to a request now.

        Called with ``time.monotonic()`` on the request's path, so an override should
        be cheap (ours poll the socket only after :data:`IDLE_POLL_AFTER` seconds idle).
        Defaults to ``self.is_available() and not self.has_expired()``.
        """
        return self.is_available() and not self.has_expired()

    def keepalive_expired(self, now: float) -> bool:
        """Whether it is idle past its keep-alive expiry at ``now`` (``time.monotonic()``).

        The pool asks this of its coldest idle connection on every request, so an
        override must not touch the socket. Defaults to ``self.has_expired()``.
        """
        return self.has_expired()
