"""A pool that sends every request through an HTTP(S) proxy: :class:`AsyncHTTPProxy`.

It is an :class:`AsyncConnectionPool` given ``proxy=``: ``http://`` requests are
forwarded (:mod:`.forwarding`), all others tunnelled with ``CONNECT``
(:mod:`.http_tunnel`); :mod:`.proxy_routing` decides which.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from netbackend_base import SOCKET_OPTION, AsyncNetworkBackend

from .._models import URL, HeaderTypes
from .._proxy_model import HTTP_PROXY_SCHEMES, Proxy, parse_proxy_url
from .connection_pool import AsyncConnectionPool

__all__ = ("AsyncHTTPProxy",)


class AsyncHTTPProxy(AsyncConnectionPool):
    """A connection pool that sends every request through an HTTP(S) proxy.

    ``http://`` requests are forwarded to the proxy; all others go through a
    ``CONNECT`` tunnel, with TLS to the origin inside it.

    Args:
        proxy_url: The proxy (``http://`` or ``https://``); credentials in it are used
            unless ``proxy_auth`` is given.
        proxy_auth: ``(username, password)`` for Basic proxy authentication.
        proxy_headers: Extra headers for the proxy only.
        ssl_context: TLS settings for the origins.
        proxy_ssl_context: TLS settings for an ``https://`` proxy.
        max_connections, max_keepalive_connections, keepalive_expiry, http1, http2,
            retries, local_address, network_backend, socket_options: As for
            :class:`AsyncConnectionPool`; ``retries``, ``local_address`` and
            ``socket_options`` apply to the connections to the proxy.
        uds: Reach the proxy through this Unix socket.

    Raises:
        ValueError: ``proxy_url`` is not an ``http``/``https`` URL.
        LocalProtocolError: A proxy header is not valid HTTP.
    """

    def __init__(
        self,
        proxy_url: URL | bytes | str,
        proxy_auth: tuple[bytes | str, bytes | str] | None = None,
        proxy_headers: HeaderTypes = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = 10,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        network_backend: AsyncNetworkBackend | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> None:
        url, credentials = parse_proxy_url(proxy_url, proxy_auth)
        if url.scheme not in HTTP_PROXY_SCHEMES:
            raise ValueError(
                f"AsyncHTTPProxy needs an http:// or https:// proxy URL, not {bytes(url)!r}."
            )
        super().__init__(
            ssl_context=ssl_context,
            proxy=Proxy(url, credentials, proxy_headers, proxy_ssl_context),
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            network_backend=network_backend,
            socket_options=socket_options,
        )
