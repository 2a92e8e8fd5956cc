"""The connection pool: :class:`AsyncConnectionPool`.

Theory of operation
-------------------
Which request gets which connection is decided by :class:`PoolLogic` (see its module),
which does no I/O and never awaits; this module does the waiting and the I/O around
it. A request:

1. takes a :class:`Ticket` and asks for a grant: the most recently parked idle
   connection to its origin, or a free slot (after closing the coldest idle connection
   of another origin if the pool is full), or a place in the FIFO queue, where it waits
   on an event for up to the ``pool`` timeout;
2. with an idle connection, checks only that one: keep-alive expiry always, and a
   close by the server (a readability poll) only when it has been idle for a while;
   a dead one is swapped for a new connection in the same slot;
3. with a slot, creates the connection (:meth:`create_connection`, no I/O), which
   connects on its first request;
4. sends the request. If the connection turns out to have been closed by the server
   while idle, and the request can be replayed, it is sent once more on a new
   connection (the connection raises :class:`ConnectionNotAvailable` for this);
5. returns the response with its body wrapped so that the connection goes back to the
   pool the moment the body has been read to its end, or is dropped if the response is
   closed early; a response without a body releases it before it is returned. The
   bodies of our own HTTP/1.1 connections are not wrapped: they are told which pool
   and connection to hand back to (see :mod:`.http11_body`), and do the same.

HTTP/2: a connection that may speak it (``http2=True`` and TLS, or prior knowledge)
is registered with a capacity of many requests (``stream_capacity()``; provisional
until the server's SETTINGS arrive), so concurrent requests share it, even while it
connects; the pool re-reads its capacity after each request and on release, so the
server's SETTINGS_MAX_CONCURRENT_STREAMS is honoured as it changes, and a saturated
connection makes the next request open another one within ``max_connections``. A
request that fails on such a connection (a reset stream) or closes its response early
does not take the connection down with it; one that received GOAWAY retires once its
last stream is done. A shared connection that turns out unable to take a request (it
raises :class:`ConnectionNotAvailable`) sends the request round the pool again.

Releasing hands the connection directly to the oldest waiter (or closes it and hands
its slot over, if that waiter wants another origin), so nothing ever scans the queue
or the connections. On asyncio, the releasing task also sends that waiter's request
when it can (:meth:`~AsyncConnectionPool._send_ahead`: an HTTP/1.1 request with no
body, untraced), and the stream wakes the waiter when the response starts to arrive:
a queued request's task then wakes once, not once to send and again to read. Its wait
is then bounded by its read timeout, and cancelling it takes the connection down.

Cancellation and errors: every path that gives something back (queue place, slot,
connection) does its bookkeeping synchronously first, in an ``except``/``finally``
block with no await before it, and only then closes sockets, shielded from
cancellation. A request cancelled while queued, connecting, sending, waiting for the
head or streaming the body therefore always frees its slot.

The async pool runs on one event loop thread, so its bookkeeping needs no lock
(``AsyncThreadLock`` is taken, but only because that is cheap); the generated sync pool
needs the same lock for it.
The network backend, when not given, is found at the first request, because an async
pool may be created before any event loop runs.
"""

from __future__ import annotations

import ssl
import sys
import time
import typing
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    async_shielded,
    default_async_backend,
)

from .._exceptions import ConnectionNotAvailable, PoolTimeout, UnsupportedProtocol
from .._locks import AsyncPoolWaiters, AsyncThreadLock
from .._models import DEFAULT_PORTS, Origin, Request, Response, timeouts
from .._pool_logic import PoolLogic, Ticket
from .._proxy_model import Proxy
from .._ssl import default_ssl_context
from .connection import AsyncHTTPConnection, check_protocols
from .http11 import AsyncHTTP11Connection
from .http11_body import AsyncFixedBody, AsyncH11Body
from .interfaces import AsyncConnectionInterface, AsyncRequestInterface
from .proxy_routing import AsyncProxyRoutes

__all__ = ("AsyncConnectionPool",)

_SCHEMES = frozenset((b"http", b"https", b"ws", b"wss"))
# How many times one request may be moved to another connection because the one it
# got had been closed by the server while idle.
_MAX_STALE_RETRIES = 3
# How many times one request may be sent round the pool again because a shared
# connection could not take it after all (its server lowered its limit, or it turned out
# HTTP/1.1 and busy or closed): a bound against a livelock, far above what happens.
_MAX_REROUTES = 100


class AsyncConnectionPool(AsyncRequestInterface):
    """A pool of HTTP/1.1 and HTTP/2 connections, reused per origin.

    Args:
        ssl_context: The TLS context for https connections. Each connection sets its
            ALPN list before its handshake, as httpcore does (``["http/1.1", "h2"]``
            with ``http2=True``, else ``["http/1.1"]``). When ``None``, the pool builds
            one default context and shares it between its connections.
        proxy: Send every request through this HTTP(S) or SOCKS proxy: ``http://``
            requests are forwarded by an HTTP proxy, the others tunnelled. ``retries``,
            ``local_address``, ``socket_options`` and ``uds`` then apply to the
            connections to the proxy.
        max_connections: The most connections open at once; ``None`` for no limit.
        max_keepalive_connections: The most *idle* connections kept open; ``None`` for
            up to ``max_connections``.
        keepalive_expiry: Seconds an idle connection stays reusable; ``None`` for ever.
        http1: Whether HTTP/1.1 may be spoken.
        http2: Whether HTTP/2 may be spoken: negotiated through ALPN over TLS, or
            with prior knowledge (h2c over cleartext) when ``http1=False``. Needs the
            ``http2`` extra (h2).
        retries: Further connect attempts after a connect error or timeout.
        local_address: The local IP address to connect from (``"0.0.0.0"`` for IPv4).
        uds: A Unix socket path to connect to instead of each origin's host and port.
        network_backend: The backend; the installed default for the running event loop
            (found at the first request) when ``None``.
        socket_options: Socket options applied to each socket before it connects.
        keepalive_ping: HTTP/2 only: a connection idle at least this many seconds is
            checked with a PING before it is reused, and replaced if the server does
            not answer; ``None`` (the default) never pings.

    Raises:
        ImportError: ``http2=True`` and h2 is not installed.
        ValueError: Neither protocol is enabled.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
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
        *,
        keepalive_ping: float | None = None,
    ) -> None:
        check_protocols(http1, http2)
        self._proxy_routes: AsyncProxyRoutes | None = None
        if proxy is not None:
            self._proxy_routes = AsyncProxyRoutes(
                proxy,
                network_backend=network_backend,
                uds=uds,
                keepalive_expiry=keepalive_expiry,
                retries=retries,
                local_address=local_address,
                socket_options=socket_options,
            )
            # Connections reach origins through the proxy backend, which itself dials
            # the proxy (over ``uds`` when given).
            network_backend, uds = self._proxy_routes.network_backend, None
        self._keepalive_ping = keepalive_ping
        self._ssl_context = ssl_context
        self._own_ssl_context: ssl.SSLContext | None = None
        self._max_connections = sys.maxsize if max_connections is None else max_connections
        self._max_keepalive_connections = min(
            self._max_connections,
            sys.maxsize if max_keepalive_connections is None else max_keepalive_connections,
        )
        self._keepalive_expiry = keepalive_expiry
        self._http1 = http1
        self._http2 = http2
        self._retries = retries
        self._local_address = local_address
        self._uds = uds
        self._network_backend = network_backend
        self._socket_options = socket_options
        self._logic: PoolLogic[AsyncConnectionInterface] = PoolLogic(
            self._max_connections, self._max_keepalive_connections
        )
        self._lock = AsyncThreadLock()
        self._waiters = AsyncPoolWaiters()

    # -- connections ----------------------------------------------------------------

    def create_connection(self, origin: Origin) -> AsyncConnectionInterface:
        """Create (but do not open) a connection to ``origin``; override to customise."""
        connection_class = AsyncHTTPConnection
        if self._proxy_routes is not None:
            forward = self._proxy_routes.forward_connection(origin)
            if forward is not None:
                return forward
            connection_class = self._proxy_routes.connection_class
        ssl_context = self._ssl_context
        if ssl_context is None and origin.scheme in (b"https", b"wss"):
            ssl_context = self._own_ssl_context
            if ssl_context is None:
                ssl_context = self._own_ssl_context = default_ssl_context()
        return connection_class(
            origin=origin,
            ssl_context=ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._network_backend,
            socket_options=self._socket_options,
            keepalive_ping=self._keepalive_ping,
        )

    @property
    def connections(self) -> list[AsyncConnectionInterface]:
        """The pool's connections, oldest first (a snapshot, for inspection)."""
        with self._lock:
            return list(self._logic.connections)

    # -- requests -------------------------------------------------------------------

    async def handle_async_request(self, request: Request) -> Response:
        """Send ``request`` on a pooled connection.

        Raises:
            UnsupportedProtocol: The URL's scheme is missing or not HTTP(S)/WS(S), or it
                has no host.
            PoolTimeout: No connection became available within the ``pool`` timeout.
        """
        url = request.url
        scheme = url.scheme
        if scheme not in _SCHEMES:
            if not scheme:
                raise UnsupportedProtocol(
                    "Request URL is missing an 'http://' or 'https://' protocol."
                )
            raise UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode('ascii')}://'."
            )
        if not url.host:
            raise UnsupportedProtocol("Request URL is missing a host.")
        key = (scheme, url.host, url.port if url.port is not None else DEFAULT_PORTS[scheme])
        # A ``total`` timeout covers everything from here (pool wait included): fix its
        # deadline now (timeouts() does nothing else when there is no ``total``, so the
        # call is skipped on the hot path then).
        request._deadline = None
        given = request.extensions.get("timeout")
        if given and "total" in given:
            timeouts(request)
        if self._network_backend is None:
            self._network_backend = default_async_backend()
        reuse = True
        stale = 0
        reroutes = 0
        logic = self._logic
        while True:
            # Check a connection out. The wait is here rather than in a helper (in async
            # code, a queued request's wake-up then resumes one coroutine fewer).
            ticket: Ticket[AsyncConnectionInterface] = Ticket(key)
            expired: AsyncConnectionInterface | None = None
            with self._lock:
                if self._keepalive_expiry is not None:
                    expired = self._pop_expired()
                granted = logic.acquire(ticket, reuse=reuse)
                if not granted:
                    self._waiters.queue(ticket, request)
            if expired is not None:
                try:
                    await expired.aclose()
                except BaseException:
                    await self._give_back(ticket)
                    raise
            if not granted:
                # Only a request that must wait needs its pool timeout. Grants made while
                # waiting never carry an idle connection to evict (only an immediate
                # grant does), so giving the ticket back is all there is to undo.
                try:
                    # (timeouts(request).get("pool"), with no call when there is no total)
                    pool_timeouts = request.extensions.get("timeout")
                    if pool_timeouts and "total" in pool_timeouts:
                        pool_timeouts = timeouts(request)
                    signalled = await self._waiters.wait(
                        ticket.waiter, pool_timeouts.get("pool") if pool_timeouts else None
                    )
                except BaseException:
                    await self._give_back(ticket)
                    raise
                if not signalled and not ticket.sent:
                    with self._lock:
                        if not ticket.granted:  # (else granted just as the wait timed out)
                            logic.cancel(ticket)
                            raise PoolTimeout(
                                "No connection became available within the pool timeout."
                            )
            try:
                connection = ticket.connection
                if connection is None:
                    connection = await self._open_in_slot(ticket, key)
                elif not ticket.shared and not ticket.sent:
                    # connection.usable(now), asking our own class's protocol connection directly
                    if type(connection) is AsyncHTTPConnection:
                        inner = connection._connection
                        usable = inner is not None and inner.usable(time.monotonic())
                    else:
                        usable = connection.usable(time.monotonic())
                    if not usable:
                        connection = await self._open_in_slot(ticket, key)
            except BaseException:
                await self._give_back(ticket)
                raise
            # A connected AsyncHTTPConnection only passes the request on: skip it.
            handler: AsyncRequestInterface = connection
            if type(connection) is AsyncHTTPConnection and connection._connection is not None:
                handler = connection._connection
            try:
                response = await handler.handle_async_request(request)
            except ConnectionNotAvailable:
                if logic.tracked(connection):
                    # A shared connection could not take the request after all (no stream
                    # free, it turned out HTTP/1.1 and busy, or it closed): place the
                    # request again, as httpcore does, with nothing sent.
                    if connection.accepting():
                        self._update_capacity(connection)
                        to_close = self._release(connection)
                        if to_close is not None:
                            await async_shielded(to_close.aclose)
                    else:
                        await self._drop(connection)
                    reroutes += 1
                    if reroutes > _MAX_REROUTES:
                        raise
                    continue
                await self._drop(connection)
                stale += 1
                if stale > _MAX_STALE_RETRIES:
                    raise
                reuse = False
                continue
            except BaseException:
                await self._drop(connection)
                raise
            tracked = connection in logic._capacity  # (logic.tracked(), inline)
            stream = response.stream
            if getattr(stream, "complete", False) is not True:
                if tracked:
                    self._update_capacity(connection)
                body_type = type(stream)
                if not tracked and (body_type is AsyncFixedBody or body_type is AsyncH11Body):
                    # One of our HTTP/1.1 bodies: it hands the connection back itself
                    # (hand_back_to(), inline).
                    body: AsyncFixedBody | AsyncH11Body = stream  # type: ignore[assignment]
                    body._pool_conn = connection
                    body._pool = self
                else:
                    response.stream = _PoolBody(self, connection, stream)
                return response
            # (Its capacity is re-read by _release(), first thing, for a tracked one.)
            to_close = self._release(connection)
            if to_close is not None:
                await to_close.aclose()
            return response

    def _update_capacity(self, connection: AsyncConnectionInterface) -> None:
        capacity = connection.stream_capacity()
        if self._logic._capacity.get(connection) == capacity:
            return  # (unchanged: what set_capacity() would find, without the lock)
        with self._lock:
            woken = self._logic.set_capacity(connection, capacity)
        for ticket in woken:
            self._waiters.wake(ticket.waiter)

    async def _open_in_slot(
        self, ticket: Ticket[AsyncConnectionInterface], key: tuple[bytes, bytes, int]
    ) -> AsyncConnectionInterface:
        """Open a connection in the slot ``ticket`` was granted: after closing the idle
        connection the grant evicted, or the dead or expired one it was given.

        The caller gives the ticket back if this fails.
        """
        evict = ticket.evict
        if evict is not None:
            ticket.evict = None
            await async_shielded(evict.aclose)
        connection = ticket.connection
        if connection is not None:
            # Dead or expired: close it, and open a new one in its slot.
            with self._lock:
                self._logic.swap_for_slot(ticket)
            await async_shielded(connection.aclose)
        connection = self.create_connection(Origin(*key))
        capacity = connection.stream_capacity()
        with self._lock:
            others = self._logic.register(ticket, connection, capacity)
        for other in others:
            self._waiters.wake(other.waiter)
        return connection

    async def _give_back(self, ticket: Ticket[AsyncConnectionInterface]) -> None:
        """A request gives up what ``ticket`` holds (its queue place, slot or connection)."""
        connection = ticket.connection
        if ticket.sent and connection is not None:  # unasync: no cover in sync
            # Its request is out on the connection (sent ahead): the connection goes too.
            ticket.granted = False
            await self._drop(connection)
            return
        with self._lock:
            woken, to_close = self._logic.cancel(ticket)
        await self._after_release(woken, to_close)

    def _pop_expired(self) -> AsyncConnectionInterface | None:
        # Only the coldest idle connection, and only its keep-alive expiry (no socket
        # poll): whatever expired before it goes on a later request, one per request.
        oldest = self._logic.oldest_idle()
        if oldest is None:
            return None
        if oldest.keepalive_expired(time.monotonic()):
            self._logic.discard(oldest)
            return oldest
        return None

    async def _after_release(
        self,
        woken: Ticket[AsyncConnectionInterface] | None,
        to_close: AsyncConnectionInterface | None,
    ) -> None:
        if woken is not None:
            self._waiters.wake(woken.waiter)
        if to_close is not None:
            await async_shielded(to_close.aclose)

    def _release(self, connection: AsyncConnectionInterface) -> AsyncConnectionInterface | None:
        """A response is done with ``connection``; wake whoever gets it next.

        Returns:
            A connection the caller must close.
        """
        logic = self._logic
        if connection in logic._capacity:  # (logic.tracked(), inline)
            self._update_capacity(connection)
            reusable = connection.accepting()
            last = logic.in_use(connection) <= 1
        else:
            if type(connection) is AsyncHTTPConnection:
                # (its is_idle(), which asks its protocol connection once connected, inline)
                inner = connection._connection
                reusable = connection._connect_failed if inner is None else inner.is_idle()
            else:
                reusable = connection.is_idle()
            last = True
        if last and self._keepalive_expiry == 0:
            # No keep-alive at all: a connection is closed as soon as it is idle.
            reusable = False
        with self._lock:
            woken, to_close = logic.release(connection, reusable=reusable)
            gone = not reusable and connection not in logic.connections
        if woken is not None and (woken.request is None or not self._send_ahead(woken, connection)):
            self._waiters.wake(woken.waiter)
        if gone and to_close is None and not connection.is_closed():
            return connection
        return to_close

    def _send_ahead(
        self, ticket: Ticket[Any], connection: Any
    ) -> bool:  # unasync: no cover in sync
        """Send the request of ``ticket``, just handed ``connection``, from this task.

        Its own task then wakes once, when its response arrives, rather than also when
        it is handed the connection: one task switch per request instead of two, when
        requests queue for connections. Only on our own HTTP/1.1 connections (see
        :meth:`AsyncHTTP11Connection.send_ahead` for which requests), and only when
        its wait can become the wait for the response: a wait with a pool timeout
        turns into one with the read timeout (so both or neither must be set), and a
        ``total`` timeout keeps the usual path.

        Returns:
            Whether it was sent (else the ticket's task must be woken as usual).
        """
        if ticket.connection is not connection or type(connection) is not AsyncHTTPConnection:
            return False
        inner = connection._connection
        if type(inner) is not AsyncHTTP11Connection or inner._stream_send_ahead is None:
            return False
        request: Request = ticket.request
        read_timeout = None
        given = request.extensions.get("timeout")
        if given:
            read_timeout = given.get("read")
            if "total" in given or (given.get("pool") is None) is not (read_timeout is None):
                return False
        waiter = ticket.waiter
        if waiter.done() or not inner.send_ahead(request, waiter, read_timeout):
            return False
        self._waiters.retime(waiter, read_timeout)
        ticket.sent = True
        return True

    def _discard_active(
        self, connection: AsyncConnectionInterface
    ) -> AsyncConnectionInterface | None:
        """Take a connection whose request failed or was abandoned out of the pool.

        Synchronous, so that it runs even while the caller is being cancelled. A
        multiplexed connection that is still fine (only the request's stream failed)
        stays; one retiring stays until its last request is done.

        Returns:
            The connection, for the caller to close, if it left the pool.
        """
        if self._logic.tracked(connection):
            return self._release(connection)
        with self._lock:
            woken, _ = self._logic.release(connection, reusable=False)
        if woken is not None:
            self._waiters.wake(woken.waiter)
        return connection

    async def _drop(self, connection: AsyncConnectionInterface) -> None:
        """Take a connection that failed mid-request out of the pool and close it."""
        to_close = self._discard_active(connection)
        if to_close is not None:
            await async_shielded(to_close.aclose)

    # -- lifecycle ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every connection. Requests in progress fail; the pool stays usable."""
        with self._lock:
            connections = self._logic.clear()
        for connection in connections:
            await async_shielded(connection.aclose)

    async def __aenter__(self) -> AsyncConnectionPool:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        logic = self._logic
        idle = logic.idle_count
        return (
            f"<{type(self).__name__} [Requests: {logic.active_requests} active, "
            f"{logic.queued_count} queued | Connections: {len(logic.connections) - idle} "
            f"active, {idle} idle]>"
        )


class _PoolBody:
    """A response body that gives its connection back to the pool when done."""

    __slots__ = ("_connection", "_inner", "_iterator", "_pool", "_released")

    def __init__(
        self,
        pool: AsyncConnectionPool,
        connection: AsyncConnectionInterface,
        inner: typing.Any,
    ) -> None:
        self._pool = pool
        self._connection = connection
        self._inner = inner
        self._iterator: AsyncIterator[bytes] = typing.cast(AsyncIterable[bytes], inner).__aiter__()
        self._released = False

    def __aiter__(self) -> _PoolBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            await self._done()
            raise
        except BaseException:
            if not self._released:
                self._released = True
                await self._pool._drop(self._connection)
            raise
        if not self._released and getattr(self._inner, "complete", False):
            await self._done()
        return chunk

    async def _done(self) -> None:
        if not self._released:
            self._released = True
            to_close = self._pool._release(self._connection)
            if to_close is not None:
                await async_shielded(to_close.aclose)

    async def aclose(self) -> None:
        """Close the body; an unfinished one takes its connection down with it."""
        to_close: AsyncConnectionInterface | None = None
        if not self._released:
            self._released = True
            pool = self._pool
            if pool._logic.tracked(self._connection) and not getattr(
                self._inner, "complete", False
            ):
                # A multiplexed connection outlives this response: reset the stream
                # first, then give the connection back.
                try:
                    await self._inner.aclose()
                finally:
                    to_close = pool._discard_active(self._connection)
                    if to_close is not None:
                        await async_shielded(to_close.aclose)
                return
            if getattr(self._inner, "complete", False):
                to_close = self._pool._release(self._connection)
            else:
                to_close = self._pool._discard_active(self._connection)
        try:
            aclose = getattr(self._inner, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            if to_close is not None:
                await async_shielded(to_close.aclose)
