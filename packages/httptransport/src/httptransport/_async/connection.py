"""A connection that opens itself on its first request: :class:`AsyncHTTPConnection`.

Theory of operation
-------------------
The pool creates one of these per connection it decides to open, before any I/O, so
that the slot is accounted for at once. The first request then connects: TCP (or a
Unix socket), with ``retries`` further attempts on connect errors after growing pauses
(none, then 0.5 s, 1 s, 2 s...), then TLS for ``https``/``wss``. From then on every
request goes straight to the :class:`AsyncHTTP11Connection` that speaks HTTP/1.1 over
the stream.

HTTP/2 (:mod:`.http2`) is chosen exactly as httpcore 1.0 chooses it: when TLS
negotiates ``h2`` through ALPN, or when ``http2=True, http1=False`` (prior knowledge,
which over cleartext is h2c). ALPN is offered as httpcore offers it: right before each
TLS handshake the connection sets the context's list (the caller's context too) to
``["http/1.1", "h2"]`` with ``http2=True``, else ``["http/1.1"]``. The list is copied
into the handshake's TLS object when the backend creates it, in the same step, so pools
that share one context with different choices each offer their own (with the sync API,
two threads connecting at the same moment through one shared context can still cross:
give such pools a context each). h2 is imported only when needed, since it is an
optional dependency.

A connection that may turn out to be HTTP/2 reports a provisional capacity of many
streams while it connects, so that the pool can send concurrent requests to it at once
instead of opening a connection each; the first request connects (under a lock) and the
others wait for it. Should the server pick HTTP/1.1, the extra requests get
:class:`ConnectionNotAvailable` and the pool places them elsewhere.
"""

from __future__ import annotations

import logging
import ssl
import typing
from collections.abc import Iterable, Iterator

from netbackend_base import (
    SOCKET_OPTION,
    AsyncLock,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    default_async_backend,
)

from .._exceptions import ConnectionNotAvailable
from .._h2_adapter import import_h2
from .._models import Origin, Request, Response, timeouts
from .._ssl import default_ssl_context
from .._trace import NO_TRACE, Trace, tracing_enabled
from .http2 import INITIAL_MAX_STREAMS, AsyncHTTP2Connection
from .http11 import AsyncHTTP11Connection
from .interfaces import AsyncConnectionInterface

__all__ = ("AsyncHTTPConnection", "check_protocols")

logger = logging.getLogger("httptransport.connection")

_TLS_SCHEMES = (b"https", b"wss")


def _retry_delays() -> Iterator[float]:
    yield 0.0
    delay = 0.5
    while True:
        yield delay
        delay *= 2


def check_protocols(http1: bool, http2: bool) -> None:
    """Reject protocol choices that cannot be honoured.

    Raises:
        ImportError: ``http2`` is set and h2 is not installed.
        ValueError: Neither protocol is enabled.
    """
    if not http1 and not http2:
        raise ValueError("http1=False and http2=False leave no protocol to speak.")
    if http2:
        import_h2()


class AsyncHTTPConnection(AsyncConnectionInterface):
    """One connection to ``origin``, opened by its first request.

    Args:
        origin: Where to connect.
        ssl_context: The TLS context for https; its ALPN list is set before each
            handshake (see above). A default context when ``None``.
        keepalive_expiry: Seconds an idle connection stays reusable.
        http1: Whether HTTP/1.1 may be spoken.
        http2: Whether HTTP/2 may be spoken (negotiated through ALPN over TLS; with
            ``http1=False``, spoken with prior knowledge).
        retries: Further connect attempts after a connect error or timeout.
        local_address: The local IP address to connect from.
        uds: A Unix socket path to connect to instead of the origin's host and port.
        network_backend: The backend; the installed default for the running event
            loop when ``None``.
        socket_options: Socket options applied before connecting.
        keepalive_ping: For HTTP/2, PING a connection idle this many seconds before
            reusing it (see :class:`AsyncHTTP2Connection`); ``None`` (the default) never.

    Raises:
        ImportError: ``http2=True`` and h2 is not installed.
        ValueError: Neither protocol is enabled.
    """

    # Whose name the origin's start_tls events carry (httpcore's proxy connections report
    # it as proxy.start_tls and socks.start_tls).
    _tls_logger = logger

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
        *,
        keepalive_ping: float | None = None,
    ) -> None:
        check_protocols(http1, http2)
        self._origin = origin
        self._http1 = http1
        self._http2 = http2
        self._keepalive_ping = keepalive_ping
        # Whether it may speak HTTP/2 once connected (and so carry concurrent requests).
        self._multiplex = http2 and (origin.scheme in _TLS_SCHEMES or not http1)
        self._connect_lock = AsyncLock() if self._multiplex else None
        self._ssl_context = ssl_context
        self._alpn = ["http/1.1", "h2"] if http2 else ["http/1.1"]
        self._keepalive_expiry = keepalive_expiry
        self._retries = retries
        self._local_address = local_address
        self._uds = uds
        self._network_backend = network_backend
        self._socket_options = socket_options
        self._connection: AsyncHTTP11Connection | AsyncHTTP2Connection | None = None
        self._connect_failed = False

    async def handle_async_request(self, request: Request) -> Response:
        """Connect if this is the first request, then send it over the negotiated protocol.

        Raises:
            ConnectError: The connection could not be made (after the retries).
            ConnectTimeout: Connecting took longer than the ``connect`` timeout.
            ConnectionNotAvailable: Another request's connect failed, or the
                connection cannot take this request after all.
            ImportError: The server chose HTTP/2 and h2 is not installed.
            RuntimeError: The request is for another origin.
        """
        connection = self._connection
        if connection is None:
            if not self.can_handle_request(request.url.origin):
                raise RuntimeError(
                    f"Attempted to send request to {request.url.origin} "
                    f"on connection to {self._origin}"
                )
            lock = self._connect_lock
            if lock is None:
                connection = await self._open(request)
            else:
                # Concurrent requests to a connection that may be HTTP/2: one connects.
                async with lock:
                    connection = self._connection
                    if connection is None:
                        if self._connect_failed:
                            raise ConnectionNotAvailable()
                        connection = await self._open(request)
        return await connection.handle_async_request(request)

    async def _open(self, request: Request) -> AsyncHTTP11Connection | AsyncHTTP2Connection:
        try:
            stream = await self._connect(request)
            ssl_object = stream.get_extra_info("ssl_object")
            negotiated_h2 = ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
            connection: AsyncHTTP11Connection | AsyncHTTP2Connection
            if negotiated_h2 or (self._http2 and not self._http1):
                try:
                    connection = AsyncHTTP2Connection(
                        self._origin,
                        stream,
                        self._keepalive_expiry,
                        keepalive_ping=self._keepalive_ping,
                    )
                except BaseException:
                    await stream.aclose()
                    raise
            else:
                self._multiplex = False
                connection = AsyncHTTP11Connection(self._origin, stream, self._keepalive_expiry)
        except BaseException:
            self._connect_failed = True
            raise
        self._connection = connection
        return connection

    async def _connect(self, request: Request) -> AsyncNetworkStream:
        timeout = timeouts(request).get("connect")
        backend = self._network_backend
        if backend is None:
            backend = self._network_backend = default_async_backend()
        traced = tracing_enabled(request, logger)
        origin = self._origin
        delays = _retry_delays()
        retries_left = self._retries
        while True:
            try:
                stream = await self._open_socket(backend, request, timeout, traced)
                if origin.scheme in _TLS_SCHEMES:
                    ssl_context = self._ssl_context
                    if ssl_context is None:
                        ssl_context = self._ssl_context = default_ssl_context()
                    sni_hostname = request.extensions.get("sni_hostname")
                    kwargs: dict[str, typing.Any] = {
                        "ssl_context": ssl_context,
                        "server_hostname": sni_hostname or origin.host.decode("ascii"),
                        "timeout": timeout,
                    }
                    async with (
                        Trace("start_tls", self._tls_logger, request, kwargs)
                        if traced
                        else NO_TRACE
                    ) as trace:
                        # No await between this and the TLS object's creation.
                        ssl_context.set_alpn_protocols(self._alpn)
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

    async def _open_socket(
        self,
        backend: AsyncNetworkBackend,
        request: Request,
        timeout: float | None,
        traced: bool,
    ) -> AsyncNetworkStream:
        """The stream to the origin before TLS: TCP, or the Unix socket ``uds``.

        Proxy connections override it to open a tunnel, reporting the steps httpcore's
        proxy connections report.
        """
        if self._uds is None:
            kwargs: dict[str, typing.Any] = {
                "host": self._origin.host.decode("ascii"),
                "port": self._origin.port,
                "local_address": self._local_address,
                "timeout": timeout,
                "socket_options": self._socket_options,
            }
            async with (
                Trace("connect_tcp", logger, request, kwargs) if traced else NO_TRACE
            ) as trace:
                stream = await backend.connect_tcp(**kwargs)
                trace.return_value = stream
            return stream
        kwargs = {"path": self._uds, "timeout": timeout, "socket_options": self._socket_options}
        async with (
            Trace("connect_unix_socket", logger, request, kwargs) if traced else NO_TRACE
        ) as trace:
            stream = await backend.connect_unix_socket(**kwargs)
            trace.return_value = stream
        return stream

    def can_handle_request(self, origin: Origin) -> bool:
        """Whether ``origin`` is this connection's origin."""
        return origin == self._origin

    def stream_capacity(self) -> int:
        """How many requests it can carry at once: 1 for HTTP/1.1, the server's stream
        limit for HTTP/2 (provisionally 100 while a possibly-HTTP/2 connection connects)."""
        connection = self._connection
        if connection is None:
            if self._multiplex and not self._connect_failed:
                return INITIAL_MAX_STREAMS
            return 1
        return connection.stream_capacity()

    def accepting(self) -> bool:
        """Whether it may take requests, now or later (not closed, failed or draining)."""
        connection = self._connection
        if connection is None:
            return not self._connect_failed
        return connection.accepting()

    def is_available(self) -> bool:
        """Whether it could take a request now (one that may become HTTP/2 can while it
        connects)."""
        if self._connection is None:
            return self._multiplex and not self._connect_failed
        return self._connection.is_available()

    def has_expired(self) -> bool:
        """Whether it must not be reused: its connect failed, or the protocol connection
        has expired."""
        if self._connection is None:
            return self._connect_failed
        return self._connection.has_expired()

    def usable(self, now: float) -> bool:
        """Whether the protocol connection may take a request now (cheap; see
        :meth:`AsyncConnectionInterface.usable`)."""
        return self._connection is not None and self._connection.usable(now)

    def keepalive_expired(self, now: float) -> bool:
        """Whether the protocol connection is idle past its keep-alive expiry."""
        return self._connection is not None and self._connection.keepalive_expired(now)

    def is_idle(self) -> bool:
        """Whether it has no request in progress: connected and idle, or failed to
        connect (as httpcore reports it)."""
        if self._connection is None:
            return self._connect_failed
        return self._connection.is_idle()

    def is_closed(self) -> bool:
        """Whether it is closed, or its connect failed."""
        if self._connection is None:
            return self._connect_failed
        return self._connection.is_closed()

    def info(self) -> str:
        """The protocol connection's info, or ``CONNECTING`` / ``CONNECTION FAILED``."""
        if self._connection is None:
            return "CONNECTION FAILED" if self._connect_failed else "CONNECTING"
        return self._connection.info()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"

    async def aclose(self) -> None:
        """Close the connection (if it was ever opened), logging ``close`` at DEBUG."""
        if self._connection is not None:
            async with Trace("close", logger, None, {}):
                await self._connection.aclose()

    async def __aenter__(self) -> AsyncHTTPConnection:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()
