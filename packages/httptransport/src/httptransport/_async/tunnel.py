"""Proxy tunnels as network backends: :class:`AsyncProxyBackend`, their base.

Theory of operation
-------------------
A proxied connection differs from a direct one only in how its byte stream is opened,
so the proxy is put *under* the normal connection machinery, as a network backend:
:class:`AsyncProxyBackend` wraps the real backend, and its ``connect_tcp(host, port)``
connects to the proxy instead (TCP, or the ``uds`` socket; then TLS when the proxy URL
is ``https://``), asks the proxy for a tunnel to ``host:port`` (an HTTP ``CONNECT`` in
:mod:`.http_tunnel`, a SOCKS handshake in :mod:`.socks_tunnel`), and returns the
tunnel. The pool's ordinary :class:`AsyncHTTPConnection`, built by the pool's own
``create_connection``, then does everything else exactly as for a direct connection:
TLS to the origin (TLS-in-TLS when the proxy speaks TLS too), ALPN, ``retries`` with
back-off, ``connect`` timeouts and trace events, and whichever protocol it speaks over
the stream. Because the tunnel is made inside ``connect_tcp``, the connect timeout
covers the whole handshake: a proxy that stalls ends in :class:`ConnectTimeout`, and
any failure closes the proxy stream before it propagates, so the pool's slot is freed
as for any failed connect.

Given the request a tunnel is for (:meth:`AsyncProxyBackend.open_tunnel`, which the
proxy pools' connections call), its steps reach the request's ``trace`` extension as
httpcore reports them: ``connection.connect_tcp`` (and ``connection.start_tls`` to an
``https://`` proxy), then the ``CONNECT`` exchange as ``http11.*`` events, or
``socks.connect_tcp`` and ``socks.setup_socks5_connection``. No credentials appear in
traces or logs.
"""

from __future__ import annotations

import logging
import ssl
import typing
from collections.abc import Iterable

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    async_shielded,
    default_async_backend,
)

from .._exceptions import UnsupportedProtocol
from .._models import URL, Request
from .._ssl import http11_ssl_context
from .._trace import Trace
from .connection import AsyncHTTPConnection

__all__ = ("AsyncProxyBackend", "AsyncTunnelledConnection", "connection_logger")

connection_logger = logging.getLogger("httptransport.connection")


class AsyncProxyBackend(AsyncNetworkBackend):
    """A backend whose connections are tunnels through a proxy (see the module doc).

    Subclasses implement :meth:`handshake`.

    Args:
        proxy_url: The proxy.
        network_backend: The real backend; the default for the running event loop
            (found at the first connect) when ``None``.
        proxy_ssl_context: TLS settings for an ``https://`` proxy.
        uds: Reach the proxy through this Unix socket instead of its host and port.
    """

    def __init__(
        self,
        proxy_url: URL,
        network_backend: AsyncNetworkBackend | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        uds: str | None = None,
    ) -> None:
        self.proxy_url = proxy_url
        self._backend = network_backend
        self._proxy_ssl_context = proxy_ssl_context
        self._uds = uds

    def _real_backend(self) -> AsyncNetworkBackend:
        backend = self._backend
        if backend is None:
            backend = self._backend = default_async_backend()
        return backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Open a tunnel to ``host:port`` through the proxy.

        ``timeout`` bounds each step (connect, TLS to the proxy, every handshake read
        and write); ``local_address`` and ``socket_options`` apply to the socket to
        the proxy.

        Raises:
            ConnectError: The proxy could not be reached.
            ConnectTimeout: Reaching the proxy, or its handshake, timed out.
            ProxyError: The proxy refused the tunnel, hung up, or answered garbage.
        """
        return await self.open_tunnel(host, port, timeout, local_address, socket_options, None)

    async def open_tunnel(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SOCKET_OPTION] | None,
        request: Request | None,
    ) -> AsyncNetworkStream:
        """:meth:`connect_tcp`, reporting its steps to ``request``'s ``trace`` extension
        (and to the DEBUG logs) as httpcore's proxy connections report them.

        Raises:
            The same as :meth:`connect_tcp`.
        """
        stream = await self._connect_proxy(timeout, local_address, socket_options, request)
        try:
            return await self.handshake(stream, host, port, timeout, request)
        except BaseException:
            await async_shielded(stream.aclose)
            raise

    # Where the connect to the proxy is reported: as httpcore's connection to an HTTP
    # proxy reports it (SOCKS reports it as socks.connect_tcp, host, port and timeout).
    _connect_logger = connection_logger

    def _connect_info(self, kwargs: dict[str, typing.Any]) -> dict[str, typing.Any]:
        """The arguments reported with ``connect_tcp``."""
        return kwargs

    async def _connect_proxy(
        self,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SOCKET_OPTION] | None,
        request: Request | None,
    ) -> AsyncNetworkStream:
        backend = self._real_backend()
        url = self.proxy_url
        host = url.host.decode("ascii")
        kwargs: dict[str, typing.Any]
        trace_logger = self._connect_logger
        if self._uds is not None:
            kwargs = {"path": self._uds, "timeout": timeout, "socket_options": socket_options}
            async with Trace("connect_unix_socket", trace_logger, request, kwargs) as trace:
                stream = await backend.connect_unix_socket(**kwargs)
                trace.return_value = stream
        else:
            port = url.port if url.port is not None else self.default_port()
            kwargs = {
                "host": host,
                "port": port,
                "local_address": local_address,
                "timeout": timeout,
                "socket_options": socket_options,
            }
            info = self._connect_info(kwargs)
            async with Trace("connect_tcp", trace_logger, request, info) as trace:
                stream = await backend.connect_tcp(**kwargs)
                trace.return_value = stream
        if url.scheme == b"https":
            ssl_context = self._proxy_ssl_context
            if ssl_context is None:
                ssl_context = self._proxy_ssl_context = http11_ssl_context()
            kwargs = {"ssl_context": ssl_context, "server_hostname": host, "timeout": timeout}
            # start_tls closes the stream itself when it fails.
            async with Trace("start_tls", trace_logger, request, kwargs) as trace:
                stream = await stream.start_tls(**kwargs)
                trace.return_value = stream
        return stream

    def default_port(self) -> int:
        """The port of a proxy URL that names none."""
        return 443 if self.proxy_url.scheme == b"https" else 80

    async def handshake(
        self,
        stream: AsyncNetworkStream,
        host: str,
        port: int,
        timeout: float | None,
        request: Request | None = None,
    ) -> AsyncNetworkStream:
        """Ask the proxy behind ``stream`` for a tunnel to ``host:port``; return it.

        ``request``, when given, is the request the tunnel is for: its ``trace``
        extension sees the handshake.
        """
        raise NotImplementedError()  # pragma: no cover

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        """Not possible: a tunnel needs a host and port (give ``uds`` to the proxy pool).

        Raises:
            UnsupportedProtocol: Always.
        """
        raise UnsupportedProtocol(
            "A proxied connection has no Unix socket of its own; the proxy pool's uds= "
            "is the path to reach the proxy by."
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep on the real backend (used between connect retries)."""
        await self._real_backend().sleep(seconds)


class AsyncTunnelledConnection(AsyncHTTPConnection):
    """A pool's connection to an origin through a proxy tunnel.

    Its backend is the pool's :class:`AsyncProxyBackend`; it opens the tunnel with the
    request it is opened for, so that the request's ``trace`` extension sees the steps
    (:meth:`AsyncProxyBackend.open_tunnel`).
    """

    async def _open_socket(
        self,
        backend: AsyncNetworkBackend,
        request: Request,
        timeout: float | None,
        traced: bool,
    ) -> AsyncNetworkStream:
        tunnels = typing.cast(AsyncProxyBackend, backend)
        origin = self._origin
        return await tunnels.open_tunnel(
            origin.host.decode("ascii"),
            origin.port,
            timeout,
            self._local_address,
            self._socket_options,
            request if traced else None,
        )
