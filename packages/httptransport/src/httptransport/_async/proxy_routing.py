"""How a pool reaches origins through a proxy: :class:`AsyncProxyRoutes`.

Two decisions make up a route: which network backend opens the pool's streams (a
tunnel: :mod:`.http_tunnel` for HTTP(S) proxies, :mod:`.socks_tunnel` for SOCKS), and
which origins get a forwarding connection instead (plain ``http://`` through an HTTP
proxy: :mod:`.forwarding`). The pool asks both; the ``AsyncHTTPProxy`` and
``AsyncSOCKSProxy`` pools and a plain pool given ``proxy=`` route requests the same way.

``Proxy-Authorization`` (from ``proxy_auth`` or the proxy URL's credentials) and the
extra proxy headers only ever go to the proxy: on the ``CONNECT`` request, or on a
forwarded request, which the proxy consumes. The origin behind a tunnel never sees them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from netbackend_base import SOCKET_OPTION, AsyncNetworkBackend

from .._models import Origin
from .._proxy_model import HTTP_PROXY_SCHEMES, SOCKS_PROXY_SCHEMES, Proxy, proxy_headers
from .._ssl import http11_ssl_context
from .connection import AsyncHTTPConnection
from .forwarding import AsyncForwardHTTPConnection
from .http_tunnel import AsyncHTTPTunnelBackend, AsyncTunnelHTTPConnection
from .interfaces import AsyncConnectionInterface
from .socks_tunnel import AsyncSocks5Connection, AsyncSOCKSBackend
from .tunnel import AsyncProxyBackend

__all__ = ("AsyncProxyRoutes",)


class AsyncProxyRoutes:
    """How a pool reaches origins through one proxy (HTTP(S) or SOCKS).

    Give the pool :attr:`network_backend` as its backend and ``uds=None`` (the proxy
    backend uses ``uds`` itself), and ask :meth:`forward_connection` first in
    ``create_connection``.

    Args:
        proxy: The proxy.
        network_backend: The real backend (``None``: the event loop's default).
        uds: Reach the proxy through this Unix socket.
        keepalive_expiry, retries, local_address, socket_options: As for the pool;
            used by forwarding connections.

    Raises:
        ValueError: The proxy scheme is unknown.
        ImportError: A SOCKS proxy without socksio installed.
    """

    def __init__(
        self,
        proxy: Proxy,
        network_backend: AsyncNetworkBackend | None = None,
        uds: str | None = None,
        keepalive_expiry: float | None = None,
        retries: int = 0,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> None:
        self.proxy = proxy
        url = proxy.url
        self._real_backend = network_backend
        self._uds = uds
        self._keepalive_expiry = keepalive_expiry
        self._retries = retries
        self._local_address = local_address
        self._socket_options = socket_options
        self._default_proxy_ssl_context: ssl.SSLContext | None = None
        self.network_backend: AsyncProxyBackend
        # The class of the pool's tunnelled connections (named as httpcore names them).
        self.connection_class: type[AsyncHTTPConnection]
        if url.scheme in SOCKS_PROXY_SCHEMES:
            self._forwards = False
            self.connection_class = AsyncSocks5Connection
            self.network_backend = AsyncSOCKSBackend(
                url, proxy.auth, network_backend=network_backend, uds=uds
            )
        elif url.scheme in HTTP_PROXY_SCHEMES:
            self._forwards = True
            self.connection_class = AsyncTunnelHTTPConnection
            self._proxy_origin = url.origin
            self._headers = proxy_headers(proxy.headers, proxy.auth)
            self.network_backend = AsyncHTTPTunnelBackend(
                url,
                self._headers,
                network_backend=network_backend,
                proxy_ssl_context=proxy.ssl_context,
                uds=uds,
            )
        else:  # pragma: no cover - Proxy() already checked
            raise ValueError(f"Unknown proxy scheme {url.scheme!r}.")

    def forward_connection(self, origin: Origin) -> AsyncConnectionInterface | None:
        """A forwarding connection for a plain ``http://`` origin, else ``None``."""
        if not self._forwards or origin.scheme != b"http":
            return None
        proxy_origin = self._proxy_origin
        ssl_context = self.proxy.ssl_context
        if ssl_context is None and proxy_origin.scheme == b"https":
            # Built once and kept here: the caller's Proxy object is left as it was.
            ssl_context = self._default_proxy_ssl_context
            if ssl_context is None:
                ssl_context = self._default_proxy_ssl_context = http11_ssl_context()
        # HTTP/1.1 to the proxy: forwarding is defined for HTTP/1.1 request targets.
        connection = AsyncHTTPConnection(
            origin=proxy_origin,
            ssl_context=ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=True,
            http2=False,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._real_backend,
            socket_options=self._socket_options,
        )
        return AsyncForwardHTTPConnection(origin, connection, self._headers, proxy_origin)
