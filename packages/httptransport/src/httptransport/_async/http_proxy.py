"""Requests through an HTTP(S) proxy: :class:`AsyncHTTPProxy` and the shared plumbing.

Theory of operation
-------------------
A proxied connection differs from a direct one only in how its byte stream is opened,
so the proxy is put *under* the normal connection machinery, as a network backend:
:class:`AsyncProxyBackend` wraps the real backend, and its ``connect_tcp(host, port)``
connects to the proxy instead (TCP, or the ``uds`` socket; then TLS when the proxy URL
is ``https://``), asks the proxy for a tunnel to ``host:port`` (an HTTP ``CONNECT`` here,
a SOCKS handshake in :mod:`.socks_proxy`), and returns the tunnel. The pool's ordinary
:class:`AsyncHTTPConnection`, built by the pool's own ``create_connection``, then does
everything else exactly as for a direct connection: TLS to the origin (TLS-in-TLS when
the proxy speaks TLS too), ALPN, ``retries`` with back-off, ``connect`` timeouts and
trace events, and whichever protocol it speaks over the stream (HTTP/2 included, once
the connection implements it). Because the tunnel is made inside ``connect_tcp``, the
connect timeout covers the whole handshake: a proxy that stalls ends in
:class:`ConnectTimeout`, and any failure closes the proxy stream before it propagates,
so the pool's slot is freed as for any failed connect.

Plain ``http://`` targets through an HTTP proxy are not tunnelled but *forwarded*:
:class:`AsyncForwardHTTPConnection` sends each request to the proxy with the whole
URL as its target (absolute form) plus the proxy headers. Forwarding connections are
pooled like any other, keyed by the target's origin: many proxies (pproxy among them)
bind a client connection to the upstream server of its first request, so sharing one
proxy connection between origins would send requests to the wrong server.

``Proxy-Authorization`` (from ``proxy_auth`` or the proxy URL's credentials) and the
extra proxy headers only ever go to the proxy: on the ``CONNECT`` request, or on a
forwarded request, which the proxy consumes. The origin behind a tunnel never sees
them. Log lines and trace information written here show the header as ``[secure]``.

:class:`AsyncProxyRoutes` bundles the two decisions a pool needs (which backend opens
its streams; which origins get a forwarding connection), so that both the
``AsyncHTTPProxy``/``AsyncSOCKSProxy`` subclasses and a plain pool given ``proxy=``
route requests the same way.
"""

from __future__ import annotations

import logging
import re
import ssl
import typing
from collections.abc import Iterable

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    async_shielded,
    default_async_backend,
)

from .._exceptions import LocalProtocolError, ProxyError, UnsupportedProtocol
from .._models import URL, HeaderTypes, Origin, Request, Response, enforce_headers
from .._proxy_model import (
    HTTP_PROXY_SCHEMES,
    PROXY_AUTHORIZATION,
    SOCKS_PROXY_SCHEMES,
    Proxy,
    basic_auth_header,
    parse_proxy_url,
    redact_headers,
)
from .._trace import Trace
from .connection import AsyncHTTPConnection, http11_ssl_context
from .connection_pool import AsyncConnectionPool
from .http11 import AsyncHTTP11UpgradeStream
from .interfaces import AsyncConnectionInterface

__all__ = (
    "AsyncForwardHTTPConnection",
    "AsyncHTTPProxy",
    "AsyncHTTPTunnelBackend",
    "AsyncProxyBackend",
    "AsyncProxyRoutes",
    "authority",
)

logger = logging.getLogger("httptransport.proxy")

# A proxy's reply head larger than this is not a reply we can use.
_MAX_REPLY_HEAD = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: ([^\r\n]*))?")
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+").fullmatch
_HEADER_VALUE = re.compile(rb"[^\x00\r\n]*").fullmatch


def authority(host: bytes, port: int) -> bytes:
    """``host:port`` as a request target, with brackets around an IPv6 address."""
    if b":" in host:
        return b"[%b]:%d" % (host, port)
    return b"%b:%d" % (host, port)


def _proxy_headers(
    headers: HeaderTypes, credentials: tuple[bytes, bytes] | None
) -> list[tuple[bytes, bytes]]:
    """The headers for the proxy: Basic credentials first, then the caller's extras."""
    extra = list(enforce_headers(headers, name="proxy_headers"))
    for name, value in extra:
        # Checked here, once, because the CONNECT request is written by hand.
        if _HEADER_NAME(name) is None or _HEADER_VALUE(value) is None:
            raise LocalProtocolError(f"Invalid proxy header {name!r}.")
    if credentials is not None and not any(n.lower() == PROXY_AUTHORIZATION for n, _ in extra):
        extra.insert(0, basic_auth_header(credentials))
    return extra


def _handshake_error(exc: Exception, what: str) -> Exception:
    """Map an I/O error during a proxy handshake to what the caller should see.

    Timeouts become :class:`ConnectTimeout` (the handshake is part of connecting, and
    the connection's ``retries`` apply to it); a broken connection is the proxy's
    fault and becomes :class:`ProxyError`.
    """
    if isinstance(exc, (ReadTimeout, WriteTimeout, ConnectTimeout)):
        return ConnectTimeout(f"Timed out during the {what}.")
    return ProxyError(f"The proxy broke the connection during the {what}: {exc}")


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
        stream = await self._connect_proxy(timeout, local_address, socket_options)
        try:
            return await self.handshake(stream, host, port, timeout)
        except BaseException:
            await async_shielded(stream.aclose)
            raise

    async def _connect_proxy(
        self,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[SOCKET_OPTION] | None,
    ) -> AsyncNetworkStream:
        backend = self._real_backend()
        url = self.proxy_url
        host = url.host.decode("ascii")
        kwargs: dict[str, typing.Any]
        if self._uds is not None:
            kwargs = {"path": self._uds, "timeout": timeout, "socket_options": socket_options}
            async with Trace("connect_unix_socket", logger, None, kwargs):
                stream = await backend.connect_unix_socket(**kwargs)
        else:
            port = url.port if url.port is not None else self.default_port()
            kwargs = {
                "host": host,
                "port": port,
                "timeout": timeout,
                "local_address": local_address,
                "socket_options": socket_options,
            }
            async with Trace("connect_proxy", logger, None, kwargs):
                stream = await backend.connect_tcp(**kwargs)
        if url.scheme == b"https":
            ssl_context = self._proxy_ssl_context
            if ssl_context is None:
                ssl_context = self._proxy_ssl_context = http11_ssl_context()
            kwargs = {"ssl_context": ssl_context, "server_hostname": host, "timeout": timeout}
            # start_tls closes the stream itself when it fails.
            async with Trace("start_tls_to_proxy", logger, None, kwargs):
                stream = await stream.start_tls(**kwargs)
        return stream

    def default_port(self) -> int:
        """The port of a proxy URL that names none."""
        return 443 if self.proxy_url.scheme == b"https" else 80

    async def handshake(
        self, stream: AsyncNetworkStream, host: str, port: int, timeout: float | None
    ) -> AsyncNetworkStream:
        """Ask the proxy behind ``stream`` for a tunnel to ``host:port``; return it."""
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


class AsyncHTTPTunnelBackend(AsyncProxyBackend):
    """Tunnels through an HTTP(S) proxy with ``CONNECT``.

    Args:
        proxy_url: The proxy.
        proxy_headers: Headers for the ``CONNECT`` request (``Proxy-Authorization``
            included), already checked.
        network_backend: The real backend.
        proxy_ssl_context: TLS settings for an ``https://`` proxy.
        uds: Reach the proxy through this Unix socket.
    """

    def __init__(
        self,
        proxy_url: URL,
        proxy_headers: list[tuple[bytes, bytes]],
        network_backend: AsyncNetworkBackend | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        uds: str | None = None,
    ) -> None:
        super().__init__(proxy_url, network_backend, proxy_ssl_context, uds)
        self._proxy_headers = proxy_headers

    async def handshake(
        self, stream: AsyncNetworkStream, host: str, port: int, timeout: float | None
    ) -> AsyncNetworkStream:
        """Send ``CONNECT host:port`` and read the proxy's answer.

        Raises:
            ConnectTimeout: The proxy did not answer within ``timeout``.
            ProxyError: The proxy refused (its status is in the message), hung up, or
                did not answer with HTTP.
        """
        target = authority(host.encode("ascii"), port)
        headers = [(b"Host", target), *self._proxy_headers]
        head = b"".join(
            [b"CONNECT %b HTTP/1.1\r\n" % target]
            + [b"%b: %b\r\n" % (name, value) for name, value in headers]
            + [b"\r\n"]
        )
        info = {"target": target, "headers": redact_headers(headers)}
        async with Trace("send_connect_request", logger, None, info) as trace:
            try:
                await stream.write(head, timeout)
                reply = await self._read_head(stream, timeout)
            except (ReadError, ReadTimeout, WriteError, WriteTimeout) as exc:
                raise _handshake_error(exc, "CONNECT handshake") from exc
            trace.return_value = reply[:2]
        status, reason, leftover = reply
        if not 200 <= status < 300:
            text = reason.decode("ascii", "replace")
            raise ProxyError(
                f"The proxy refused the CONNECT tunnel to {target.decode('ascii')}: "
                f"{status} {text}".rstrip()
            )
        if leftover:
            return AsyncHTTP11UpgradeStream(stream, leftover)
        return stream

    @staticmethod
    async def _read_head(
        stream: AsyncNetworkStream, timeout: float | None
    ) -> tuple[int, bytes, bytes]:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buffer) > _MAX_REPLY_HEAD:
                raise ProxyError("The proxy's reply to CONNECT has an oversized head.")
            chunk = await stream.read(65536, timeout)
            if not chunk:
                if buffer:
                    raise ProxyError(
                        f"The proxy closed the connection in the middle of its reply to "
                        f"CONNECT: {buffer[:80]!r}"
                    )
                raise ProxyError(
                    "The proxy closed the connection without answering the CONNECT request."
                )
            buffer += chunk
            # Garbage is recognised as soon as it cannot be a status line.
            if len(buffer) >= 12 and _STATUS_LINE.match(buffer) is None:
                raise ProxyError(
                    f"The proxy answered the CONNECT request with something other than "
                    f"HTTP/1.x: {buffer[:80]!r}"
                )
        match = _STATUS_LINE.match(buffer)
        if match is None:
            raise ProxyError(
                f"The proxy answered the CONNECT request with something other than "
                f"HTTP/1.x: {buffer[:80]!r}"
            )
        return int(match.group(1)), match.group(2) or b"", buffer[end + 4 :]


class _RedactedHeaders(list[tuple[bytes, bytes]]):
    """Forwarded-request headers whose repr (in logs and traces) hides credentials."""

    def __repr__(self) -> str:
        return repr(redact_headers(list(self)))


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
        headers = _RedactedHeaders([(n, v) for n, v in self._proxy_headers if n.lower() not in own])
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
        """The proxy connection's info."""
        return f"{self._connection.info()} (forwarding to {self._origin})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"

    async def aclose(self) -> None:
        """Close the connection to the proxy."""
        await self._connection.aclose()

    async def __aenter__(self) -> AsyncForwardHTTPConnection:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()


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
        if url.scheme in SOCKS_PROXY_SCHEMES:
            # Imported here: socks_proxy imports this module.
            from .socks_proxy import AsyncSOCKSBackend

            self._forwards = False
            self.network_backend = AsyncSOCKSBackend(
                url, proxy.auth, network_backend=network_backend, uds=uds
            )
        elif url.scheme in HTTP_PROXY_SCHEMES:
            self._forwards = True
            self._proxy_origin = url.origin
            self._headers = _proxy_headers(proxy.headers, proxy.auth)
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
