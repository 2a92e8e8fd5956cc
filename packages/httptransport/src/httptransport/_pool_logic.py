"""Which request gets which connection: the pool's bookkeeping, with no I/O at all.

Shared as is by the async and the sync pool (it is sans-IO, so it is not generated). Every
method runs to completion without awaiting, so in an async pool, where tasks only switch
at an ``await``, no lock is needed; the sync pool wraps each call in a threading lock
(see :mod:`httptransport._locks`).

The model
---------
A pool has at most ``max_connections`` *slots*. A slot is held by a connection from
the moment a request decides to open it (before the first byte of the connect) until
the connection is discarded. HTTP/1.1 connections serve one request at a time, so a
slot's connection is either *active* (a request owns it, or it is being opened) or
*idle* (parked, ready for the next request to its origin).

* Idle connections sit on a stack per origin (LIFO: the most recently used one is the
  most likely to still be open and warm) and in one pool-wide recency order, used to
  pick the coldest idle connection to close when a slot is needed for another origin,
  when there are more than ``max_keepalive`` idle connections, or when the coldest ones
  have expired. Both structures give O(1) push, pop and removal.
* Requests that find no idle connection and no free slot queue up in one FIFO
  (insertion-ordered dict: O(1) append, pop and removal on cancellation).
* When a request is done with a connection, the connection goes straight to the
  oldest waiter if that waiter wants the same origin (hand-off, no parking). If the
  oldest waiter wants another origin, the connection is closed and its slot handed to
  that waiter, which then opens its own connection. Nothing ever scans the queue.

Multiplexed connections (HTTP/2) carry up to a *capacity* of requests at once. A
connection registered with a capacity other than 1 is *tracked*: its number of requests
in use is counted, and while ``0 < in_use < capacity`` it sits in a per-origin set of
*shared* connections, which :meth:`PoolLogic.acquire` tries before the idle stacks (so
concurrent requests pile onto one HTTP/2 connection, and a saturated one is passed
over for a new slot). With no request in use it is parked idle like any other. Its
capacity may change at any time (:meth:`PoolLogic.set_capacity`: the server's stream
limit arrived, or the connection turned out to be HTTP/1.1); a rise is handed straight
to queued requests for its origin. A request done with a tracked connection hands the
freed capacity to the oldest waiter *for that origin*, which is why the waiter queue is
also indexed per origin (each ticket is in both, O(1) removal from either). A tracked
connection that may take no new requests (GOAWAY, an error) *retires*: it leaves the
shared set and the idle stacks at once, but keeps its slot until its last request is
done. Untracked connections (HTTP/1.1) never pay for any of this.

Each request holds a :class:`Ticket`, which records what it was granted so that a
request that gives up (timeout, cancellation) at any point can hand back exactly what
it holds: :meth:`PoolLogic.cancel`.
"""

from __future__ import annotations

import typing
from collections import OrderedDict

__all__ = ("PoolLogic", "Ticket")

C = typing.TypeVar("C")


class Ticket(typing.Generic[C]):
    """One request's claim on the pool.

    Attributes:
        key: The origin the request goes to.
        connection: The idle connection it was given to reuse, if any.
        granted: Whether it holds a slot (``connection`` set: reuse it; ``None``: open
            a new connection in that slot).
        evict: An idle connection the grant removed from the pool to free the slot;
            the request must close it.
        waiter: Whatever the I/O layer uses to wake the request (an event).
        shared: Whether ``connection`` was already carrying other requests (a
            multiplexed connection in use), so it must not be checked as an idle one.
        request: The queued request, when the I/O layer may send it ahead on the
            connection it is handed (``None``: it may not).
        sent: Whether it was: the request is out on ``connection``, which it must not
            give back as reusable.
    """

    __slots__ = ("connection", "evict", "granted", "key", "request", "sent", "shared", "waiter")

    def __init__(self, key: typing.Hashable) -> None:
        self.key = key
        self.connection: C | None = None
        self.granted = False
        self.evict: C | None = None
        self.waiter: typing.Any = None
        self.shared = False
        self.request: typing.Any = None
        self.sent = False


class PoolLogic(typing.Generic[C]):
    """Slot, idle-stack and waiter-queue bookkeeping for one pool.

    Connections are only required to be hashable. Time never enters here: deciding
    whether an idle connection is still usable is the caller's job.

    Attributes:
        connections: Every connection holding a slot, oldest first, mapped to its key.
        active_requests: Requests holding a slot or a connection right now.
    """

    __slots__ = (
        "_capacity",
        "_idle",
        "_idle_order",
        "_in_use",
        "_key_waiters",
        "_max_connections",
        "_max_idle",
        "_reserved",
        "_retiring",
        "_shared",
        "_waiters",
        "active_requests",
        "connections",
    )

    def __init__(self, max_connections: int | None, max_idle: int | None) -> None:
        """Create empty bookkeeping.

        Args:
            max_connections: The most slots at once; ``None`` for no limit.
            max_idle: The most idle connections kept; ``None`` for no limit.
        """
        self._max_connections = max_connections
        self._max_idle = max_idle
        self.connections: dict[C, typing.Hashable] = {}
        self._reserved = 0  # slots granted whose connection is not registered yet
        self._idle: dict[typing.Hashable, list[C]] = {}
        self._idle_order: OrderedDict[C, typing.Hashable] = OrderedDict()
        self._waiters: OrderedDict[Ticket[C], None] = OrderedDict()
        self._key_waiters: dict[typing.Hashable, OrderedDict[Ticket[C], None]] = {}
        # Tracked (multiplexed) connections only: capacity, requests in use, the
        # per-origin sets of those with spare capacity, and those retiring.
        self._capacity: dict[C, int] = {}
        self._in_use: dict[C, int] = {}
        self._shared: dict[typing.Hashable, dict[C, None]] = {}
        self._retiring: set[C] = set()
        self.active_requests = 0

    # -- introspection --------------------------------------------------------------

    @property
    def idle_count(self) -> int:
        """How many connections are parked."""
        return len(self._idle_order)

    @property
    def queued_count(self) -> int:
        """How many requests wait for a connection."""
        return len(self._waiters)

    @property
    def slot_count(self) -> int:
        """How many slots are taken (connections, and grants not yet connected)."""
        return len(self.connections) + self._reserved

    def is_idle(self, connection: C) -> bool:
        """Whether ``connection`` is parked."""
        return connection in self._idle_order

    def tracked(self, connection: C) -> bool:
        """Whether ``connection`` was registered as multiplexed (capacity other than 1)."""
        return connection in self._capacity

    def in_use(self, connection: C) -> int:
        """How many requests use ``connection`` (tracked connections; else 0 or 1)."""
        count = self._in_use.get(connection)
        if count is not None:
            return count
        return int(connection in self.connections and connection not in self._idle_order)

    def oldest_idle(self) -> C | None:
        """The idle connection that has been parked the longest, if any."""
        for connection in self._idle_order:
            return connection
        return None

    # -- requests -------------------------------------------------------------------

    def acquire(self, ticket: Ticket[C], *, reuse: bool = True) -> bool:
        """Grant ``ticket`` a connection or a slot now, or queue it.

        Args:
            reuse: Whether an idle connection may be reused (``False`` forces a new
                connection, as for a retry after a stale one).

        Returns:
            Whether it was granted; if not, it is queued and will be granted by a later
            :meth:`release` or :meth:`discard`.
        """
        key = ticket.key
        if reuse:
            shared = self._shared.get(key)
            if shared:
                connection = next(iter(shared))
                self._take(connection, key)
                ticket.connection = connection
                ticket.granted = True
                ticket.shared = True
                self.active_requests += 1
                return True
            stack = self._idle.get(key)
            if stack:
                connection = stack.pop()
                if not stack:
                    del self._idle[key]
                del self._idle_order[connection]
                if connection in self._in_use:
                    self._take(connection, key)
                ticket.connection = connection
                ticket.granted = True
                self.active_requests += 1
                return True
        if not self._waiters:
            if self._max_connections is None or self.slot_count < self._max_connections:
                self._grant_slot(ticket, None)
                return True
            if self._idle_order:
                self._grant_slot(ticket, self._pop_coldest())
                return True
        self._waiters[ticket] = None
        waiters = self._key_waiters.get(key)
        if waiters is None:
            waiters = self._key_waiters[key] = OrderedDict()
        waiters[ticket] = None
        return False

    def register(self, ticket: Ticket[C], connection: C, capacity: int = 1) -> list[Ticket[C]]:
        """Record the connection a granted ticket opened in its slot.

        Args:
            capacity: How many requests it may carry at once; any value but 1 makes it
                a tracked (multiplexed) connection, even if its capacity later drops
                to 1.

        Returns:
            Queued tickets for the same origin granted this connection's spare
            capacity (wake them up).
        """
        self._reserved -= 1
        key = ticket.key
        self.connections[connection] = key
        ticket.connection = connection
        if capacity == 1:
            return []
        self._capacity[connection] = capacity
        self._in_use[connection] = 1
        if capacity > 1:
            self._shared.setdefault(key, {})[connection] = None
        return self._fill(connection, key)

    def set_capacity(self, connection: C, capacity: int) -> list[Ticket[C]]:
        """A tracked connection's capacity changed (an untracked one's never does).

        Returns:
            Queued tickets granted the connection's new spare capacity (wake them up).
        """
        old = self._capacity.get(connection)
        if old is None or old == capacity:
            return []
        self._capacity[connection] = capacity
        key = self.connections.get(connection)
        in_use = self._in_use[connection]
        if key is None or in_use == 0 or connection in self._retiring:
            return []
        shared = self._shared.get(key)
        if in_use < capacity:
            if shared is None:
                shared = self._shared[key] = {}
            shared[connection] = None
            return self._fill(connection, key)
        if shared is not None and connection in shared:
            self._unshare(connection, key)
        return []

    def release(self, connection: C, *, reusable: bool) -> tuple[Ticket[C] | None, C | None]:
        """A request is done with ``connection``.

        Args:
            reusable: Whether the connection can take another request (if not, it is
                discarded).

        Returns:
            ``(woken, to_close)``: a queued ticket that was just granted (wake it up),
            and a connection now out of the pool that the caller must close.
        """
        self.active_requests -= 1
        key = self.connections.get(connection)
        if connection in self._in_use:
            return self._release_tracked(connection, key, reusable)
        if not reusable or key is None:
            return self._drop(connection), None
        if self._waiters:
            # (_pop_waiter(), inline: the oldest waiter is in its origin's queue too)
            ticket, _ = self._waiters.popitem(last=False)
            ticket_key = ticket.key
            waiters = self._key_waiters[ticket_key]
            del waiters[ticket]
            if not waiters:
                del self._key_waiters[ticket_key]
            if ticket_key == key:
                ticket.connection = connection
                ticket.granted = True
                self.active_requests += 1
                return ticket, None
            del self.connections[connection]
            self._grant_slot(ticket, None)
            return ticket, connection
        return self._park(connection, key)

    def _release_tracked(
        self, connection: C, key: typing.Hashable | None, reusable: bool
    ) -> tuple[Ticket[C] | None, C | None]:
        in_use = self._in_use[connection] - 1
        self._in_use[connection] = in_use
        if key is None:  # the pool was cleared meanwhile
            if in_use == 0:
                self._forget(connection)
            return None, None
        if not reusable or connection in self._retiring:
            self._unshare(connection, key)
            if in_use:
                self._retiring.add(connection)
                return None, None
            del self.connections[connection]
            self._forget(connection)
            return self._wake_for_slot(), connection
        if in_use < self._capacity[connection]:
            waiters = self._key_waiters.get(key)
            if waiters:
                ticket = self._pop_waiter(key)
                self._in_use[connection] = in_use + 1
                ticket.connection = connection
                ticket.granted = True
                ticket.shared = in_use > 0
                self.active_requests += 1
                return ticket, None
        if in_use:
            if in_use < self._capacity[connection]:
                self._shared.setdefault(key, {})[connection] = None
            return None, None
        self._unshare(connection, key)
        if self._waiters:
            # The oldest waiter wants another origin: close this one, hand over its slot.
            ticket = self._pop_waiter()
            del self.connections[connection]
            self._forget(connection)
            self._grant_slot(ticket, None)
            return ticket, connection
        return self._park(connection, key)

    def _park(self, connection: C, key: typing.Hashable) -> tuple[Ticket[C] | None, C | None]:
        self._idle.setdefault(key, []).append(connection)
        self._idle_order[connection] = key
        if self._max_idle is not None and len(self._idle_order) > self._max_idle:
            return None, self._pop_coldest()
        return None, None

    def discard(self, connection: C) -> Ticket[C] | None:
        """Remove an idle or unusable connection (closed, expired, broken) from the pool.

        The caller has already stopped using it (for an active connection, call
        :meth:`release` with ``reusable=False`` instead, which also ends the request).

        Returns:
            A queued ticket that was granted the freed slot, if any.
        """
        key = self._idle_order.pop(connection, None)
        if key is not None:
            stack = self._idle[key]
            stack.remove(connection)
            if not stack:
                del self._idle[key]
        return self._drop(connection)

    def cancel(self, ticket: Ticket[C]) -> tuple[Ticket[C] | None, C | None]:
        """Give back whatever ``ticket`` holds: its queue place, slot or connection.

        For a request that timed out or was cancelled before it sent anything on the
        connection it was granted (a connection it did send on must be released with
        ``reusable=False`` instead).

        Returns:
            ``(woken, to_close)`` as for :meth:`release`.
        """
        if not ticket.granted:
            if self._waiters.pop(ticket, 0) is None:
                self._unqueue(ticket)
            return None, None
        ticket.granted = False
        connection = ticket.connection
        if connection is None:
            self._reserved -= 1
            self.active_requests -= 1
            return self._wake_for_slot(), None
        ticket.connection = None
        # (Also when the pool forgot the connection meanwhile, by clear(): release()
        # then hands the slot it held to the oldest waiter.)
        return self.release(connection, reusable=True)

    def swap_for_slot(self, ticket: Ticket[C]) -> None:
        """Turn a granted connection that proved unusable into a slot for a new one.

        The old connection leaves the pool (the caller closes it); nobody is woken,
        since the slot stays taken.
        """
        connection = ticket.connection
        if connection is not None:
            ticket.connection = None
            if self.connections.pop(connection, None) is not None:
                self._forget(connection)
                self._reserved += 1
                return
        # The connection was already gone (the pool was cleared): take a fresh slot.
        self._reserved += 1  # pragma: no cover - defensive

    def clear(self) -> list[C]:
        """Forget every connection (the pool is closing); return them to be closed.

        Requests using one of them end with an error and release it as usual; that
        release is then a no-op apart from waking a waiter.
        """
        connections = list(self.connections)
        self.connections.clear()
        self._idle.clear()
        self._idle_order.clear()
        self._shared.clear()
        self._retiring.clear()
        self._capacity = {c: n for c, n in self._capacity.items() if self._in_use[c]}
        self._in_use = {c: n for c, n in self._in_use.items() if n}
        return connections

    # -- internals ------------------------------------------------------------------

    def _grant_slot(self, ticket: Ticket[C], evict: C | None) -> None:
        self._reserved += 1
        self.active_requests += 1
        ticket.connection = None
        ticket.evict = evict
        ticket.granted = True

    def _pop_coldest(self) -> C:
        connection, key = self._idle_order.popitem(last=False)
        stack = self._idle[key]
        # The coldest connection of the pool is the coldest of its origin: the bottom.
        del stack[0]
        if not stack:
            del self._idle[key]
        del self.connections[connection]
        if connection in self._in_use:
            self._forget(connection)
        return connection

    def _drop(self, connection: C) -> Ticket[C] | None:
        self.connections.pop(connection, None)
        if connection in self._in_use:
            self._forget(connection)
        return self._wake_for_slot()

    def _wake_for_slot(self) -> Ticket[C] | None:
        if self._waiters and (
            self._max_connections is None or self.slot_count < self._max_connections
        ):
            ticket = self._pop_waiter()
            self._grant_slot(ticket, None)
            return ticket
        return None

    def _pop_waiter(self, key: typing.Hashable = None) -> Ticket[C]:
        """Dequeue the oldest waiter (for ``key``, if given) from both queues."""
        if key is None:
            ticket, _ = self._waiters.popitem(last=False)
            self._unqueue(ticket)
            return ticket
        waiters = self._key_waiters[key]
        ticket, _ = waiters.popitem(last=False)
        if not waiters:
            del self._key_waiters[key]
        del self._waiters[ticket]
        return ticket

    def _unqueue(self, ticket: Ticket[C]) -> None:
        waiters = self._key_waiters.get(ticket.key)
        if waiters is not None and waiters.pop(ticket, 0) is None and not waiters:
            del self._key_waiters[ticket.key]

    def _take(self, connection: C, key: typing.Hashable) -> None:
        """One more request on a tracked connection."""
        in_use = self._in_use[connection] + 1
        self._in_use[connection] = in_use
        if in_use < self._capacity[connection]:
            if in_use == 1:
                self._shared.setdefault(key, {})[connection] = None
        else:
            self._unshare(connection, key)

    def _unshare(self, connection: C, key: typing.Hashable) -> None:
        shared = self._shared.get(key)
        if shared is not None and shared.pop(connection, 0) is None and not shared:
            del self._shared[key]

    def _fill(self, connection: C, key: typing.Hashable) -> list[Ticket[C]]:
        """Grant a tracked connection's spare capacity to waiters for its origin."""
        woken: list[Ticket[C]] = []
        waiters = self._key_waiters.get(key)
        capacity = self._capacity[connection]
        while waiters and self._in_use[connection] < capacity:
            ticket = self._pop_waiter(key)
            self._take(connection, key)
            ticket.connection = connection
            ticket.granted = True
            ticket.shared = True
            self.active_requests += 1
            woken.append(ticket)
            waiters = self._key_waiters.get(key)
        return woken

    def _forget(self, connection: C) -> None:
        self._capacity.pop(connection, None)
        self._in_use.pop(connection, None)
        self._retiring.discard(connection)
