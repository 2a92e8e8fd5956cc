"""httpx transports on httptransport's pools: :class:`HTTPTransport`, :class:`AsyncHTTPTransport`.

httpx's clients hand each request to a transport; httpx's default transport wraps an
httpcore pool. These wrap one of our pools instead and otherwise behave as httpx's own
transport does: the same constructor, the same TLS context, the same proxies, and the
same httpx exception for each failure.

Theory of operation
-------------------
Construction translates httpx's settings into one pool, once:

* TLS: ``httpx.create_ssl_context(verify=..., cert=..., trust_env=...)``, so each httpx
  version builds the context it always builds (keywords only: 0.27 and 0.28 order the
  parameters differently). A context that call *built* is ours, and is made to offer
  through ALPN the protocols enabled (``h2`` when ``http2=True``). A context the
  caller passed as ``verify`` comes back as is; as with httpx's own transport, the
  pool's connections set its ALPN list before each handshake.
* Proxies: a URL (``str`` or ``httpx.URL``) becomes an ``httpx.Proxy``, as httpx does,
  so the same schemes are accepted and credentials in the URL are taken out; the
  ``httpx.Proxy`` becomes our :class:`~httptransport.Proxy` (the pool's ``proxy=``),
  which routes to HTTP(S) forwarding, a CONNECT tunnel or SOCKS.
* ``limits`` gives the pool's size and keep-alive settings.

A request is translated field by field, without copying anything large: the method,
the URL's raw parts (``raw_path``, query included, is the target), the raw header
list, httpx's body stream (iterated by the pool as it sends) and the extensions
(``timeout``, ``trace``, ``sni_hostname`` mean the same to our pool). The response
becomes an ``httpx.Response`` whose stream is a :class:`_SyncBody` / :class:`_AsyncBody`:
reading it reads the pool's response body, and closing it closes the pool's response,
which gives the connection back (or drops it, if the body was not read to its end).

Errors are translated at this boundary by :data:`_MAP_ERRORS`: sending, each read of
the body, closing. Only ``Exception`` subclasses are translated; cancellation
(``BaseException``) passes through untouched, so the pool's own cleanup still frees the
request's slot. An exception the table does not know (one raised by the request body,
say) also passes through unchanged, as with httpx's transport.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import AsyncIterator, Iterable, Iterator
from types import TracebackType

try:
    import httpx
except ImportError as exc:  # the error names the extra; the cause names what is missing
    raise ImportError("httptransport.httpx needs httpx: pip install httptransport[httpx]") from exc

from netbackend_base import SOCKET_OPTION, AsyncNetworkBackend, NetworkBackend

from ._async import AsyncConnectionPool
from ._exceptions import (
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    NetworkError,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    TimeoutException,
    UnsupportedProtocol,
    WriteError,
    WriteTimeout,
)
from ._models import URL, Request, Response
from ._proxy_model import Proxy
from ._sync import ConnectionPool

__all__ = (
    "DEFAULT_LIMITS",
    "AsyncHTTPTransport",
    "CertTypes",
    "HTTPTransport",
    "ProxyTypes",
    "build_ssl_context",
    "httpx_error",
    "pool_proxy",
    "pool_request",
)

CertTypes = str | tuple[str, str] | tuple[str, str, str]
"""A client certificate, as httpx takes it: a file, ``(certfile, keyfile)`` or
``(certfile, keyfile, password)``."""

ProxyTypes = str | httpx.URL | httpx.Proxy
"""A proxy, as httpx takes it."""

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""httpx's default limits: 100 connections, 20 of them kept alive, for 5 seconds."""

_SyncT = typing.TypeVar("_SyncT", bound="HTTPTransport")
_AsyncT = typing.TypeVar("_AsyncT", bound="AsyncHTTPTransport")

# Each of the pool's exceptions and the httpx exception it becomes. Looked up along the
# raised exception's MRO, so the most specific entry wins (a ReadTimeout is found as
# ReadTimeout before TimeoutException), and a subclass of ours maps like its base.
_HTTPX_ERRORS: dict[type[BaseException], type[httpx.HTTPError]] = {
    ConnectTimeout: httpx.ConnectTimeout,
    ReadTimeout: httpx.ReadTimeout,
    WriteTimeout: httpx.WriteTimeout,
    PoolTimeout: httpx.PoolTimeout,
    TimeoutException: httpx.TimeoutException,
    ConnectError: httpx.ConnectError,
    ReadError: httpx.ReadError,
    WriteError: httpx.WriteError,
    NetworkError: httpx.NetworkError,
    LocalProtocolError: httpx.LocalProtocolError,
    RemoteProtocolError: httpx.RemoteProtocolError,
    ProtocolError: httpx.ProtocolError,
    ProxyError: httpx.ProxyError,
    UnsupportedProtocol: httpx.UnsupportedProtocol,
}


def httpx_error(exc: BaseException) -> httpx.HTTPError | None:
    """The httpx exception for one of the pool's, or ``None`` if it has no counterpart.

    The message is kept (the class name stands in for an empty one).
    """
    for cls in type(exc).__mro__:
        target = _HTTPX_ERRORS.get(cls)
        if target is not None:
            return target(str(exc) or type(exc).__name__)
    return None


class _MapErrors:
    """``with _MAP_ERRORS:`` re-raises the pool's exceptions as httpx's, chained.

    Stateless, so one instance serves every thread and task; a class rather than a
    generator-based context manager, because it wraps every chunk of every body.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Only Exception subclasses: cancellation and the like pass through untouched.
        if isinstance(exc, Exception):
            mapped = httpx_error(exc)
            if mapped is not None:
                raise mapped from exc


_MAP_ERRORS = _MapErrors()


def build_ssl_context(
    verify: ssl.SSLContext | str | bool,
    cert: CertTypes | None,
    trust_env: bool,
    http1: bool,
    http2: bool,
) -> ssl.SSLContext:
    """The TLS context httpx would build, offering the enabled protocols when it is ours.

    A context passed as ``verify`` is returned as httpx returns it (httpx may load
    ``cert`` into it); its ALPN list is left to the pool's connections.
    """
    context = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
    if context is not verify:
        # httpx 0.27 built its context offering http/1.1 alone unless told http2; 0.28
        # sets no ALPN and leaves it to the pool. Ours offers what may be spoken, so it
        # is right on its own, whatever the pool sets on it later.
        context.set_alpn_protocols((["http/1.1"] if http1 else []) + (["h2"] if http2 else []))
    return context


def pool_proxy(proxy: ProxyTypes | None) -> Proxy | None:
    """Our :class:`Proxy` for what httpx accepts as ``proxy``, or ``None``.

    Raises:
        ValueError: The URL's scheme is not one httpx accepts for proxies.
    """
    if proxy is None:
        return None
    if not isinstance(proxy, httpx.Proxy):
        proxy = httpx.Proxy(url=proxy)
    url = proxy.url
    return Proxy(
        URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        auth=proxy.raw_auth,
        headers=proxy.headers.raw,
        ssl_context=proxy.ssl_context,
    )


def pool_request(request: httpx.Request) -> Request:
    """Our :class:`Request` for an ``httpx.Request``: its parts by reference, no copies."""
    url = request.url
    return Request(
        request.method,
        URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


class _SyncBody(httpx.SyncByteStream):
    """A pool response's body for httpx: errors translated, ``close()`` passed on."""

    __slots__ = ("_chunks", "_response")

    def __init__(self, response: Response) -> None:
        self._response = response
        self._chunks = iter(typing.cast(Iterable[bytes], response.stream))

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with _MAP_ERRORS:
            return next(self._chunks)

    def close(self) -> None:
        with _MAP_ERRORS:
            self._response.close()


class _AsyncBody(httpx.AsyncByteStream):
    """A pool response's body for httpx: errors translated, ``aclose()`` passed on.

    An iterator object rather than an async generator, so that abandoning the body
    leaves no generator for the event loop to finalise.
    """

    __slots__ = ("_chunks", "_response")

    def __init__(self, response: Response) -> None:
        self._response = response
        self._chunks = typing.cast(typing.AsyncIterable[bytes], response.stream).__aiter__()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        with _MAP_ERRORS:
            return await self._chunks.__anext__()

    async def aclose(self) -> None:
        with _MAP_ERRORS:
            await self._response.aclose()


class HTTPTransport(httpx.BaseTransport):
    """An ``httpx.BaseTransport`` that sends requests through a :class:`ConnectionPool`.

    Use it as ``httpx.Client(transport=HTTPTransport(...))``. The arguments are those of
    ``httpx.HTTPTransport``, plus ``network_backend``.

    Args:
        verify: ``True`` to verify servers against certifi's CAs (or ``SSL_CERT_FILE`` /
            ``SSL_CERT_DIR`` when ``trust_env``), ``False`` not to verify, a CA bundle
            path (deprecated by httpx 0.28), or an ``ssl.SSLContext`` used as is.
        cert: A client certificate (deprecated by httpx 0.28: load it into ``verify``).
        trust_env: Whether the environment may choose the CAs (and, with httpx 0.27,
            ``SSLKEYLOGFILE``).
        http1: Whether HTTP/1.1 may be spoken.
        http2: Whether HTTP/2 may be spoken (needs ``httptransport[http2]``): negotiated
            through ALPN over TLS, or with prior knowledge over ``http://`` when
            ``http1=False``.
        limits: Pool size and keep-alive settings.
        proxy: A proxy URL (``http``, ``https``, ``socks5``, ``socks5h``), or an
            ``httpx.Proxy`` (with its ``auth``, ``headers`` and ``ssl_context``).
        uds: Connect to this Unix socket instead of each origin (or the proxy).
        local_address: The local IP address to connect from.
        retries: Further connect attempts after a connect error or timeout.
        socket_options: Socket options applied to each socket before it connects.
        network_backend: The network backend; the installed default when ``None``.

    Raises:
        ValueError: The proxy's scheme is not supported, or neither protocol is enabled.
        ImportError: ``http2=True`` without h2, or a SOCKS proxy without socksio.
    """

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: ProxyTypes | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
        *,
        network_backend: NetworkBackend | None = None,
    ) -> None:
        self._pool = ConnectionPool(
            ssl_context=build_ssl_context(verify, cert, trust_env, http1, http2),
            proxy=pool_proxy(proxy),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            network_backend=network_backend,
            socket_options=socket_options,
        )

    @property
    def pool(self) -> ConnectionPool:
        """The underlying pool (to inspect its connections; closing it closes this)."""
        return self._pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response, its body not read yet.

        Raises:
            httpx.TransportError: The subclass matching the pool's error (see the module
                docstring); reading the body raises them too.
        """
        with _MAP_ERRORS:
            response = self._pool.handle_request(pool_request(request))
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_SyncBody(response),
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Close every connection of the pool."""
        with _MAP_ERRORS:
            self._pool.close()

    def __enter__(self: _SyncT) -> _SyncT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that sends requests through an
    :class:`AsyncConnectionPool`, on asyncio or trio.

    Use it as ``httpx.AsyncClient(transport=AsyncHTTPTransport(...))``. The arguments
    are those of :class:`HTTPTransport`; ``network_backend`` is an async backend (the
    running event loop's default, found at the first request, when ``None``).

    Cancelling a request, while it waits for a connection, sends, waits for the
    response or reads the body, frees its place in the pool.
    """

    def __init__(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = DEFAULT_LIMITS,
        proxy: ProxyTypes | None = None,
        uds: str | None = None,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
        *,
        network_backend: AsyncNetworkBackend | None = None,
    ) -> None:
        self._pool = AsyncConnectionPool(
            ssl_context=build_ssl_context(verify, cert, trust_env, http1, http2),
            proxy=pool_proxy(proxy),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            retries=retries,
            local_address=local_address,
            uds=uds,
            network_backend=network_backend,
            socket_options=socket_options,
        )

    @property
    def pool(self) -> AsyncConnectionPool:
        """The underlying pool (to inspect its connections; closing it closes this)."""
        return self._pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response, its body not read yet.

        Raises:
            httpx.TransportError: The subclass matching the pool's error (see the module
                docstring); reading the body raises them too.
        """
        with _MAP_ERRORS:
            response = await self._pool.handle_async_request(pool_request(request))
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_AsyncBody(response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every connection of the pool."""
        with _MAP_ERRORS:
            await self._pool.aclose()

    async def __aenter__(self: _AsyncT) -> _AsyncT:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()
