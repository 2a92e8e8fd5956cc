# Generated from packages/httptransport/src/httptransport/_async/interfaces.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The two interfaces of the async layer: anything that sends requests, and connections.

:class:`RequestInterface` gives every pool and connection the convenience
methods ``request()`` and ``stream()`` on top of the one method each implements,
``handle_request()``. :class:`ConnectionInterface` adds what a pool asks of
a connection to decide whether it can take a request.
"""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Iterable, Iterator

from .._models import (
    URL,
    Extensions,
    HeaderTypes,
    Origin,
    Request,
    Response,
    enforce_bytes,
    enforce_headers,
    enforce_url,
    include_request_headers,
)

__all__ = ("ConnectionInterface", "RequestInterface")


class RequestInterface:
    """Something that sends a :class:`Request` and returns a :class:`Response`."""

    def request(
        self,
        method: bytes | str,
        url: URL | bytes | str,
        *,
        headers: HeaderTypes = None,
        content: bytes | Iterable[bytes] | Iterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> Response:
        """Send a request and read the whole response body.

        ``Host`` and the body's framing header are added when missing.

        Returns:
            The response, with its body read (``response.content``) and closed.
        """
        request = _build_request(method, url, headers, content, extensions)
        response = self.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    @contextlib.contextmanager
    def stream(
        self,
        method: bytes | str,
        url: URL | bytes | str,
        *,
        headers: HeaderTypes = None,
        content: bytes | Iterable[bytes] | Iterable[bytes] | None = None,
        extensions: Extensions | None = None,
    ) -> Iterator[Response]:
        """Send a request; the body streams inside the ``with`` block.

        The response is closed (its connection released) when the block exits.
        """
        request = _build_request(method, url, headers, content, extensions)
        response = self.handle_request(request)
        try:
            yield response
        finally:
            response.close()

    def handle_request(self, request: Request) -> Response:
        """Send ``request`` and return the response once its head has arrived.

        The caller must close the response (``response.close()``).
        """
        raise NotImplementedError()  # pragma: no cover


class ConnectionInterface(RequestInterface):
    """A connection to one origin, as a pool sees it."""

    def close(self) -> None:
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


# Parsed URL strings: clients send many requests to few URLs, and parsing costs more
# than everything else in building a request. Each hit still builds a new URL object.
_parsed_urls: dict[bytes | str, tuple[bytes, bytes, int | None, bytes]] = {}
_PARSED_URLS_MAX = 512


def _url(url: URL | bytes | str) -> URL:
    if isinstance(url, (str, bytes)):
        parts = _parsed_urls.get(url)
        if parts is None:
            parsed = enforce_url(url, name="url")
            if len(_parsed_urls) >= _PARSED_URLS_MAX:
                _parsed_urls.clear()
            _parsed_urls[url] = (parsed.scheme, parsed.host, parsed.port, parsed.target)
            return parsed
        return URL(scheme=parts[0], host=parts[1], port=parts[2], target=parts[3])
    return enforce_url(url, name="url")


def _build_request(
    method: bytes | str,
    url: URL | bytes | str,
    headers: HeaderTypes,
    content: typing.Any,
    extensions: Extensions | None,
) -> Request:
    url = _url(url)
    header_list = include_request_headers(
        enforce_headers(headers, name="headers"), url=url, content=content
    )
    return Request(
        method=enforce_bytes(method, name="method"),
        url=url,
        headers=header_list,
        content=content,
        extensions=extensions,
    )
