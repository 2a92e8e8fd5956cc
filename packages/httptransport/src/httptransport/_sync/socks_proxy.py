# Generated from packages/httptransport/src/httptransport/_async/socks_proxy.py by scripts/unasync.py: do not edit.  # noqa: E501
"""A pool that sends every request through a SOCKS proxy: :class:`SOCKSProxy`.

It is an :class:`ConnectionPool` given ``proxy=``: every request (``http://``
too: SOCKS has no forwarding mode) goes through a tunnel (:mod:`.socks_tunnel`).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from netbackend_base import SOCKET_OPTION, NetworkBackend

from .._models import URL
from .._proxy_model import SOCKS_PROXY_SCHEMES, Proxy, parse_proxy_url
from .connection_pool import ConnectionPool

__all__ = ("SOCKSProxy",)


class SOCKSProxy(ConnectionPool):
    """A connection pool that sends every request through a SOCKS proxy.

    Args:
        proxy_url: The proxy: ``socks5://`` or ``socks5h://`` (both send host names
            to the proxy, as httpcore does), ``socks4://`` (names resolved here:
            SOCKS4 carries IPv4 addresses only) or ``socks4a://``;
            credentials in it are used unless ``proxy_auth`` is given.
        proxy_auth: ``(username, password)`` (SOCKS5), or ``(user_id, "")`` (SOCKS4).
        ssl_context: TLS settings for the origins.
        max_connections, max_keepalive_connections, keepalive_expiry, http1, http2,
            retries, network_backend: As for :class:`ConnectionPool`.
        local_address, uds, socket_options: For the connections to the proxy
            (``uds``: reach the proxy through this Unix socket).

    Raises:
        ImportError: socksio is not installed (the message says how to install it).
        ValueError: ``proxy_url`` is not a SOCKS URL.
    """

    def __init__(
        self,
        proxy_url: URL | bytes | str,
        proxy_auth: tuple[bytes | str, bytes | str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int | None = 10,
        max_keepalive_connections: int | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        network_backend: NetworkBackend | None = None,
        local_address: str | None = None,
        uds: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> None:
        url, credentials = parse_proxy_url(proxy_url, proxy_auth)
        if url.scheme not in SOCKS_PROXY_SCHEMES:
            raise ValueError(
                f"SOCKSProxy needs a socks5, socks5h, socks4 or socks4a URL, not {bytes(url)!r}."
            )
        super().__init__(
            ssl_context=ssl_context,
            proxy=Proxy(url, credentials),
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
