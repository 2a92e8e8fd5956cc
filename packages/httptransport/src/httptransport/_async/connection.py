"""A connection that opens itself on its first request: :class:`AsyncHTTPConnection`.

Theory of operation
-------------------
The pool creates one of these per connection it decides to open, before any I/O, so
that the slot is accounted for at once. The first request then connects: TCP (or a
Unix socket), with ``retries`` further attempts on connect errors after growing pauses
(none, then 0.5 s, 1 s, 2 s...), then TLS for ``https``/``wss``. From then on every
request goes straight to the :class:`AsyncHTTP11Connection` that speaks HTTP/1.1 over
the stream.

HTTP/2 is not implemented yet. ``http2=True`` raises ``NotImplementedError`` at once
instead of silently speaking HTTP/1.1. The TLS context the pool builds offers only
``http/1.1`` through ALPN; a caller's own context is used as it is (never modified),
and should its ALPN list lead a server to choose ``h2``, the connection is closed with
``NotImplementedError`` rather than sending HTTP/1.1 to an HTTP/2 server.
"""

from __future__ import annotations

import logging
import ssl
import typing
from collections.abc import Iterable, Iterator

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    default_async_backend,
)

from .._models import Origin, Request, Response
from .._ssl import default_ssl_context
from .._trace import NO_TRACE, Trace, tracing_enabled
from .http11 import AsyncHTTP11Connection
from .interfaces import AsyncConnectionInterface

__all__ = ("HTTP2_NOT_IMPLEMENTED", "AsyncHTTPConnection", "http11_ssl_context")

logger = logging.getLogger("httptransport.connection")

HTTP2_NOT_IMPLEMENTED = (
    "HTTP/2 is not implemented in httptransport yet: use http2=False (the default)."
)
_TLS_SCHEMES = (b"https", b"wss")


def http11_ssl_context() -> ssl.SSLContext:
    """A new default TLS context that offers only ``http/1.1`` through ALPN."""
    context = default_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def _retry_delays() -> Iterator[float]:
    yield 0.0
    delay = 0.5
    while True:
        yield delay
        delay *= 2


def check_protocols(http1: bool, http2: bool) -> None:
    """Reject protocol choices this version cannot honour.

    Raises:
        NotImplementedError: ``http2`` is set.
        ValueError: Neither protocol is enabled.
    """
    if http2:
        raise NotImplementedError(HTTP2_NOT_IMPLEMENTED)
    if not http1:
        raise ValueError("http1=False leaves no protocol to speak.")


class AsyncHTTPConnection(AsyncConnectionInterface):
    """One connection to ``origin``, opened by its first request.

    Args:
        origin: Where to connect.
        ssl_context: The TLS context for https; a default one (ALPN ``http/1.1``)
            when ``None``. Never modified.
        keepalive_expiry: Seconds an idle connection stays reusable.
        http1: Must be true (HTTP/1.1 is the only protocol implemented).
        http2: Must be false: HTTP/2 is not implemented yet.
        retries: Further connect attempts after a connect error or timeout.
        local_address: The local IP address to connect from.
        uds: A Unix socket path to connect to instead of the origin's host and port.
        network_backend: The backend; the installed default for the running event
            loop when ``None``.
        socket_options: Socket options applied before connecting.

    Raises:
        NotImplementedError: ``http2=True``.
        ValueError: ``http1=False``.
    """

    def __init__(
        self,
        origin: Origin,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float | None = None,
        http1: bool = True,
        http2: bool = False,
        retries: int = 0,
        local_address: str | None = None,
        uds: str | None = None,
        network_backend: AsyncNetworkBackend | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> None:
        check_protocols(http1, http2)
        self._origin = origin
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._retries = retries
        self._local_address = local_address
        self._uds = uds
        self._network_backend = network_backend
        self._socket_options = socket_options
        self._connection: AsyncHTTP11Connection | None = None
        self._connect_failed = False

    async def handle_async_request(self, request: Request) -> Response:
        """Connect if this is the first request, then send it over HTTP/1.1.

        Raises:
            ConnectError: The connection could not be made (after the retries).
            ConnectTimeout: Connecting took longer than the ``connect`` timeout.
            NotImplementedError: The server chose HTTP/2 through the caller's ALPN.
            RuntimeError: The request is for another origin.
        """
        connection = self._connection
        if connection is None:
            if not self.can_handle_request(request.url.origin):
                raise RuntimeError(
                    f"Attempted to send request to {request.url.origin} "
                    f"on connection to {self._origin}"
                )
            try:
                stream = await self._connect(request)
                ssl_object = stream.get_extra_info("ssl_object")
                if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                    await stream.aclose()
                    raise NotImplementedError(
                        "The server chose HTTP/2 through ALPN, and " + HTTP2_NOT_IMPLEMENTED
                    )
            except BaseException:
                self._connect_failed = True
                raise
            connection = self._connection = AsyncHTTP11Connection(
                self._origin, stream, self._keepalive_expiry
            )
        return await connection.handle_async_request(request)

    async def _connect(self, request: Request) -> AsyncNetworkStream:
        timeouts = request.extensions.get("timeout") or {}
        timeout = timeouts.get("connect")
        backend = self._network_backend
        if backend is None:
            backend = self._network_backend = default_async_backend()
        traced = tracing_enabled(request, logger)
        origin = self._origin
        delays = _retry_delays()
        retries_left = self._retries
        while True:
            try:
                if self._uds is None:
                    kwargs: dict[str, typing.Any] = {
                        "host": origin.host.decode("ascii"),
                        "port": origin.port,
                        "local_address": self._local_address,
                        "timeout": timeout,
                        "socket_options": self._socket_options,
                    }
                    async with (
                        Trace("connect_tcp", logger, request, kwargs) if traced else NO_TRACE
                    ) as trace:
                        stream = await backend.connect_tcp(**kwargs)
                        trace.return_value = stream
                else:
                    kwargs = {
                        "path": self._uds,
                        "timeout": timeout,
                        "socket_options": self._socket_options,
                    }
                    async with (
                        Trace("connect_unix_socket", logger, request, kwargs)
                        if traced
                        else NO_TRACE
                    ) as trace:
                        stream = await backend.connect_unix_socket(**kwargs)
                        trace.return_value = stream
                if origin.scheme in _TLS_SCHEMES:
                    ssl_context = self._ssl_context
                    if ssl_context is None:
                        ssl_context = self._ssl_context = http11_ssl_context()
                    sni_hostname = request.extensions.get("sni_hostname")
                    kwargs = {
                        "ssl_context": ssl_context,
                        "server_hostname": sni_hostname or origin.host.decode("ascii"),
                        "timeout": timeout,
                    }
                    async with (
                        Trace("start_tls", logger, request, kwargs) if traced else NO_TRACE
                    ) as trace:
                        stream = await stream.start_tls(**kwargs)
                        trace.return_value = stream
                return stream
            except (ConnectError, ConnectTimeout):
                if retries_left <= 0:
                    raise
                retries_left -= 1
                delay = next(delays)
                async with (
                    Trace("retry", logger, request, {"delay": delay}) if traced else NO_TRACE
                ):
                    await backend.sleep(delay)

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether ``origin`` is this connection's origin."""
        return origin == self._origin

    def is_available(self) -> bool:
        """Whether it is connected and idle."""
        return self._connection is not None and self._connection.is_available()

    def has_expired(self) -> bool:
        """Whether it is idle and must not be reused."""
        return self._connection is not None and self._connection.has_expired()

    def _usable(self, now: float) -> bool:
        return self._connection is not None and self._connection._usable(now)

    def _expired(self, now: float) -> bool:
        return self._connection is not None and self._connection._expired(now)

    def is_idle(self) -> bool:
        """Whether it is connected with no request in progress."""
        return self._connection is not None and self._connection.is_idle()

    def is_closed(self) -> bool:
        """Whether it is closed, or its connect failed."""
        if self._connection is None:
            return self._connect_failed
        return self._connection.is_closed()

    def info(self) -> str:
        """The HTTP/1.1 connection's info, or ``CONNECTING`` / ``CONNECTION FAILED``."""
        if self._connection is None:
            return "CONNECTION FAILED" if self._connect_failed else "CONNECTING"
        return self._connection.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"

    async def aclose(self) -> None:
        """Close the connection (if it was ever opened)."""
        if self._connection is not None:
            await self._connection.aclose()

    async def __aenter__(self) -> AsyncHTTPConnection:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()
