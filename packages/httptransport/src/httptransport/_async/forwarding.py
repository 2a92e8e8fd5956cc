"""Plain ``http://`` requests through an HTTP proxy: :class:`AsyncForwardHTTPConnection`.

Such requests are not tunnelled but *forwarded* (RFC 9112 section 3.2.2): each request
goes to the proxy with the whole URL as its target (absolute form) plus the proxy
headers, which the proxy consumes. Forwarding connections are pooled like any other,
keyed by the target's origin: many proxies (pproxy among them) bind a client connection
to the upstream server of its first request, so sharing one proxy connection between
origins would send requests to the wrong server.
"""

from __future__ import annotations

from .._models import URL, Origin, Request, Response
from .._proxy_model import RedactedHeaders
from .interfaces import AsyncConnectionInterface

__all__ = ("AsyncForwardHTTPConnection",)


class AsyncForwardHTTPConnection(AsyncConnectionInterface):
    """Sends ``http://`` requests for one origin to an HTTP proxy, in absolute form.

    Args:
        origin: The target origin this connection serves.
        connection: The connection to the proxy.
        proxy_headers: Headers added to each request (the caller's win on a clash).
    """

    def __init__(
        self,
        origin: Origin,
        connection: AsyncConnectionInterface,
        proxy_headers: list[tuple[bytes, bytes]],
        proxy_origin: Origin,
    ) -> None:
        self._origin = origin
        self._connection = connection
        self._proxy_headers = proxy_headers
        self._proxy_origin = proxy_origin

    async def handle_async_request(self, request: Request) -> Response:
        """Rewrite ``request`` for the proxy and send it.

        Raises:
            RuntimeError: The request is for another origin.
        """
        url = request.url
        if not self.can_handle_request(url.origin):
            raise RuntimeError(
                f"Attempted to send request to {url.origin} on connection to {self._origin}"
            )
        own = {name.lower() for name, _ in request.headers}
        headers = RedactedHeaders([(n, v) for n, v in self._proxy_headers if n.lower() not in own])
        headers.extend(request.headers)
        proxy = self._proxy_origin
        # "target" is already applied to request.url; a copy without it keeps the new
        # Request from replacing the absolute-form target again.
        extensions = {k: v for k, v in request.extensions.items() if k != "target"}
        forwarded = Request(
            request.method,
            URL(scheme=proxy.scheme, host=proxy.host, port=proxy.port, target=bytes(url)),
            extensions=extensions,
        )
        forwarded.headers = headers
        forwarded.stream = request.stream
        return await self._connection.handle_async_request(forwarded)

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether ``origin`` is the target origin this connection serves."""
        return origin == self._origin

    def is_available(self) -> bool:
        """Whether the connection to the proxy could take a request now."""
        return self._connection.is_available()

    def has_expired(self) -> bool:
        """Whether the connection to the proxy must not be reused."""
        return self._connection.has_expired()

    def is_idle(self) -> bool:
        """Whether the connection to the proxy is open and idle."""
        return self._connection.is_idle()

    def is_closed(self) -> bool:
        """Whether the connection to the proxy is closed (or failed)."""
        return self._connection.is_closed()

    def info(self) -> str:
        """The info of the connection to the proxy (as httpcore reports it)."""
        return self._connection.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"

    async def aclose(self) -> None:
        """Close the connection to the proxy."""
        await self._connection.aclose()

    async def __aenter__(self) -> AsyncForwardHTTPConnection:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()
