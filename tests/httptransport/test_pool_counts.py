"""The state ``PoolLogic`` leaves behind: slot, idle, queued, in-use and active counts.

Every step of each scenario is followed by a check of the whole bookkeeping against
what the step must have left (``_expect``) and of the invariants tying its structures
together (``_consistent``): an evicted connection gone from its origin's stack, a
cancelled grant giving back exactly one slot, every idle connection of an origin
reachable, a shared HTTP/2 grant counted as in use.
"""

from __future__ import annotations

import typing

from httptransport._pool_logic import PoolLogic, Ticket

A = ("http", "a", 80)
B = ("http", "b", 80)
C = ("http", "c", 80)

Logic = PoolLogic[str]


def _consistent(logic: Logic) -> None:
    """The invariants between the structures of ``logic``."""
    idle_in_stacks = [c for stack in logic._idle.values() for c in stack]
    assert sorted(idle_in_stacks) == sorted(logic._idle_order)  # same members, once each
    assert all(logic._idle.values())  # no empty stack is kept
    for key, stack in logic._idle.items():
        for connection in stack:
            assert logic._idle_order[connection] == key
            assert logic.connections[connection] == key
            assert logic.in_use(connection) == 0
    assert logic._reserved >= 0
    assert logic.slot_count == len(logic.connections) + logic._reserved
    if logic._max_connections is not None:
        assert logic.slot_count <= logic._max_connections
    if logic._max_idle is not None:
        assert logic.idle_count <= logic._max_idle
    queued = [t for waiters in logic._key_waiters.values() for t in waiters]
    assert sorted(map(id, queued)) == sorted(map(id, logic._waiters))
    assert all(logic._key_waiters.values())
    for key, waiters in logic._key_waiters.items():
        assert all(t.key == key and not t.granted for t in waiters)
    assert set(logic._capacity) == set(logic._in_use)
    for key, shared in logic._shared.items():
        assert shared  # no empty set is kept
        for connection in shared:
            assert logic.connections[connection] == key
            assert 0 < logic._in_use[connection] < logic._capacity[connection]
            assert connection not in logic._retiring
    assert logic._retiring <= set(logic._in_use)
    assert logic.active_requests >= 0


def _expect(
    logic: Logic,
    *,
    slots: int,
    idle: int,
    queued: int,
    active: int,
    connections: list[str] | None = None,
) -> None:
    _consistent(logic)
    assert (logic.slot_count, logic.idle_count, logic.queued_count, logic.active_requests) == (
        slots,
        idle,
        queued,
        active,
    )
    if connections is not None:
        assert list(logic.connections) == connections


def _open(logic: Logic, key: object, name: str, capacity: int = 1) -> Ticket[str]:
    ticket: Ticket[str] = Ticket(key)
    assert logic.acquire(ticket)
    assert (ticket.granted, ticket.connection, ticket.evict) == (True, None, None)
    assert logic.register(ticket, name, capacity) == []
    assert ticket.connection == name
    return ticket


def _held(ticket: Ticket[str]) -> str | None:
    """The ticket's connection (read through a call: a check before does not narrow it)."""
    return ticket.connection


def _queue(logic: Logic, key: object) -> Ticket[str]:
    ticket: Ticket[str] = Ticket(key)
    assert not logic.acquire(ticket)
    assert not ticket.granted
    return ticket


# -- reuse of several idle connections per origin ------------------------------------


def test_every_idle_connection_of_an_origin_is_reused_newest_first() -> None:
    """Three idle connections of one origin are handed out newest first, each once, and
    none is stranded; the fourth request opens a new one."""
    logic: Logic = PoolLogic(None, None)
    for name in ("a1", "a2", "a3"):
        _open(logic, A, name)
    _open(logic, B, "b1")
    for name in ("a1", "b1", "a2", "a3"):
        assert logic.release(name, reusable=True) == (None, None)
    _expect(logic, slots=4, idle=4, queued=0, active=0)
    assert logic.oldest_idle() == "a1"
    got = []
    for left in (3, 2, 1):
        ticket: Ticket[str] = Ticket(A)
        assert logic.acquire(ticket)
        assert (ticket.granted, ticket.shared, ticket.evict) == (True, False, None)
        got.append(ticket.connection)
        _expect(logic, slots=4, idle=left, queued=0, active=4 - left)
    assert got == ["a3", "a2", "a1"]
    assert logic._idle == {B: ["b1"]}
    assert logic.oldest_idle() == "b1"
    fresh: Ticket[str] = Ticket(A)
    assert logic.acquire(fresh)
    assert fresh.connection is None
    _expect(logic, slots=5, idle=1, queued=0, active=4)
    # Released again, they park again in release order.
    for name in ("a1", "a3"):
        logic.release(name, reusable=True)
    assert logic._idle[A] == ["a1", "a3"]
    _expect(logic, slots=5, idle=3, queued=0, active=2)


def test_discarding_an_idle_connection_keeps_its_origins_others() -> None:
    """Discarding one of several idle connections of an origin (oldest, middle, newest)
    removes only it."""
    logic: Logic = PoolLogic(None, None)
    for name in ("a1", "a2", "a3", "a4"):
        _open(logic, A, name)
    for name in ("a1", "a2", "a3", "a4"):
        logic.release(name, reusable=True)
    assert logic.discard("a2") is None
    assert logic._idle[A] == ["a1", "a3", "a4"]
    _expect(logic, slots=3, idle=3, queued=0, active=0, connections=["a1", "a3", "a4"])
    assert logic.discard("a4") is None
    assert logic.discard("a1") is None
    _expect(logic, slots=1, idle=1, queued=0, active=0, connections=["a3"])
    assert logic.discard("a3") is None
    assert logic._idle == {}
    _expect(logic, slots=0, idle=0, queued=0, active=0, connections=[])


# -- eviction -----------------------------------------------------------------------


def test_eviction_takes_the_coldest_off_its_origins_stack() -> None:
    """A full pool serving a new origin closes the pool's coldest idle connection: it
    leaves the connections, its origin's stack and the recency order; the origin's other
    idle connections stay usable."""
    logic: Logic = PoolLogic(3, None)
    for name in ("a1", "a2"):
        _open(logic, A, name)
    _open(logic, B, "b1")
    for name in ("a1", "b1", "a2"):
        logic.release(name, reusable=True)
    _expect(logic, slots=3, idle=3, queued=0, active=0)
    first: Ticket[str] = Ticket(C)
    assert logic.acquire(first)
    assert (first.evict, first.connection, first.granted) == ("a1", None, True)
    assert logic._idle == {A: ["a2"], B: ["b1"]}
    _expect(logic, slots=3, idle=2, queued=0, active=1, connections=["a2", "b1"])
    second: Ticket[str] = Ticket(C)
    assert logic.acquire(second)
    assert second.evict == "b1"
    assert logic._idle == {A: ["a2"]}
    _expect(logic, slots=3, idle=1, queued=0, active=2, connections=["a2"])
    reuse: Ticket[str] = Ticket(A)
    assert logic.acquire(reuse)
    assert (reuse.connection, reuse.evict) == ("a2", None)
    _expect(logic, slots=3, idle=0, queued=0, active=3)
    logic.register(first, "c1")
    logic.register(second, "c2")
    _expect(logic, slots=3, idle=0, queued=0, active=3, connections=["a2", "c1", "c2"])
    # Nothing idle left to evict: the next one waits.
    _queue(logic, B)
    _expect(logic, slots=3, idle=0, queued=1, active=3)


def test_eviction_of_the_bottom_of_a_stack_of_several() -> None:
    """With several idle connections on the coldest one's origin, exactly that one (the
    bottom of the stack) goes."""
    logic: Logic = PoolLogic(3, None)
    for name in ("a1", "a2", "a3"):
        _open(logic, A, name)
    for name in ("a2", "a1", "a3"):
        logic.release(name, reusable=True)
    ticket: Ticket[str] = Ticket(B)
    assert logic.acquire(ticket)
    assert ticket.evict == "a2"
    assert logic._idle == {A: ["a1", "a3"]}
    assert logic.oldest_idle() == "a1"
    _expect(logic, slots=3, idle=2, queued=0, active=1, connections=["a1", "a3"])


def test_keepalive_limit_evicts_coldest_of_the_pool() -> None:
    """Parking beyond max_idle closes the pool's coldest idle connection (another
    origin's, here), and at exactly max_idle nothing is closed."""
    logic: Logic = PoolLogic(None, 2)
    for name, key in (("a1", A), ("b1", B), ("a2", A)):
        _open(logic, key, name)
    assert logic.release("a1", reusable=True) == (None, None)
    assert logic.release("b1", reusable=True) == (None, None)
    _expect(logic, slots=3, idle=2, queued=0, active=1)
    assert logic.release("a2", reusable=True) == (None, "a1")
    assert logic._idle == {B: ["b1"], A: ["a2"]}
    _expect(logic, slots=2, idle=2, queued=0, active=0, connections=["b1", "a2"])


def test_keepalive_limit_zero_parks_nothing() -> None:
    """max_idle=0: a released connection is closed at once."""
    logic: Logic = PoolLogic(None, 0)
    _open(logic, A, "a1")
    assert logic.release("a1", reusable=True) == (None, "a1")
    _expect(logic, slots=0, idle=0, queued=0, active=0, connections=[])


def test_pool_limit_is_exact() -> None:
    """max_connections slots are granted, not one more nor one fewer; a freed slot goes
    to the oldest waiter, for whichever origin."""
    logic: Logic = PoolLogic(2, None)
    first = _open(logic, A, "a1")
    _expect(logic, slots=1, idle=0, queued=0, active=1)
    second: Ticket[str] = Ticket(B)
    assert logic.acquire(second)
    _expect(logic, slots=2, idle=0, queued=0, active=2)
    waiter_b = _queue(logic, B)
    waiter_a = _queue(logic, A)
    _expect(logic, slots=2, idle=0, queued=2, active=2)
    # A released connection goes to the OLDEST waiter (for B): closed, slot handed over.
    assert logic.release("a1", reusable=True) == (waiter_b, "a1")
    assert (waiter_b.granted, waiter_b.connection) == (True, None)
    _expect(logic, slots=2, idle=0, queued=1, active=2)
    assert first.key == A
    # Cancelling the un-connected slot grant wakes the waiter for A with a slot.
    assert logic.cancel(second) == (waiter_a, None)
    assert (second.granted, waiter_a.granted, waiter_a.connection) == (False, True, None)
    _expect(logic, slots=2, idle=0, queued=0, active=2)


def test_unlimited_pool_grants_without_queueing() -> None:
    logic: Logic = PoolLogic(None, None)
    for n in range(50):
        _open(logic, A, f"a{n}")
    _expect(logic, slots=50, idle=0, queued=0, active=50)


# -- cancellation -------------------------------------------------------------------


def test_cancelled_slot_grant_frees_exactly_one_slot() -> None:
    """A slot granted but not yet connected, then given up: one slot and one active
    request back, never two."""
    logic: Logic = PoolLogic(2, None)
    _open(logic, A, "a1")
    grant: Ticket[str] = Ticket(A)
    assert logic.acquire(grant)
    _expect(logic, slots=2, idle=0, queued=0, active=2)
    assert logic.cancel(grant) == (None, None)
    assert not grant.granted
    _expect(logic, slots=1, idle=0, queued=0, active=1)
    # The freed slot is granted once more, and the pool is full again after it.
    again: Ticket[str] = Ticket(B)
    assert logic.acquire(again)
    _expect(logic, slots=2, idle=0, queued=0, active=2)
    _queue(logic, B)
    # Cancelling a second time changes nothing.
    assert logic.cancel(grant) == (None, None)
    _expect(logic, slots=2, idle=0, queued=1, active=2)


def test_cancelled_slot_grant_wakes_one_waiter_only() -> None:
    logic: Logic = PoolLogic(1, None)
    grant: Ticket[str] = Ticket(A)
    assert logic.acquire(grant)
    w1, w2 = _queue(logic, A), _queue(logic, B)
    assert logic.cancel(grant) == (w1, None)
    assert (w1.granted, w2.granted) == (True, False)
    _expect(logic, slots=1, idle=0, queued=1, active=1)


def test_cancelled_eviction_grant_frees_the_slot_it_took() -> None:
    """A grant that evicted an idle connection and is given up before connecting leaves
    the evicted connection gone and its own slot free."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    logic.release("a1", reusable=True)
    grant: Ticket[str] = Ticket(B)
    assert logic.acquire(grant)
    assert grant.evict == "a1"
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=[])
    assert logic.cancel(grant) == (None, None)
    _expect(logic, slots=0, idle=0, queued=0, active=0, connections=[])


def test_cancelled_reuse_grant_parks_the_connection_again() -> None:
    """A request given an idle connection that gives up before sending returns it to
    the idle stack (on top) and ends its request."""
    logic: Logic = PoolLogic(None, None)
    for name in ("a1", "a2"):
        _open(logic, A, name)
    for name in ("a1", "a2"):
        logic.release(name, reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    assert ticket.connection == "a2"
    _expect(logic, slots=2, idle=1, queued=0, active=1)
    assert logic.cancel(ticket) == (None, None)
    assert (ticket.granted, _held(ticket)) == (False, None)
    assert logic._idle[A] == ["a1", "a2"]
    _expect(logic, slots=2, idle=2, queued=0, active=0)


def test_cancelled_queued_ticket_leaves_other_waiters_in_order() -> None:
    """Cancelling a queued ticket removes it from both queues; the others keep their
    order and per-origin queues."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    w1, w2, w3 = _queue(logic, A), _queue(logic, B), _queue(logic, A)
    _expect(logic, slots=1, idle=0, queued=3, active=1)
    assert logic.cancel(w1) == (None, None)
    assert list(logic._key_waiters[A]) == [w3]
    _expect(logic, slots=1, idle=0, queued=2, active=1)
    assert logic.cancel(w3) == (None, None)
    assert A not in logic._key_waiters
    assert list(logic._waiters) == [w2]
    _expect(logic, slots=1, idle=0, queued=1, active=1)
    assert logic.release("a1", reusable=True) == (w2, "a1")
    _expect(logic, slots=1, idle=0, queued=0, active=1)


def test_cancelled_shared_grant_gives_back_one_stream() -> None:
    """A request sharing an HTTP/2 connection that gives up returns one stream: in use
    and active requests drop by one, the connection is offered again."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 3)
    shared: list[Ticket[str]] = [Ticket(A), Ticket(A)]
    for ticket in shared:
        assert logic.acquire(ticket)
        assert (ticket.connection, ticket.shared) == ("h2", True)
    assert logic.in_use("h2") == 3
    assert A not in logic._shared  # saturated
    _expect(logic, slots=1, idle=0, queued=0, active=3)
    assert logic.cancel(shared[0]) == (None, None)
    assert logic.in_use("h2") == 2
    assert logic._shared == {A: {"h2": None}}
    _expect(logic, slots=1, idle=0, queued=0, active=2)
    assert logic.cancel(shared[1]) == (None, None)
    assert logic.in_use("h2") == 1
    _expect(logic, slots=1, idle=0, queued=0, active=1)


# -- HTTP/2: shared grants and capacity (limit) changes ------------------------------


def test_shared_grants_count_as_in_use() -> None:
    """Each request granted a shared connection adds one to its in-use count and to the
    active requests; the connection stays shared until its capacity is reached."""
    logic: Logic = PoolLogic(2, None)
    _open(logic, A, "h2", 3)
    assert logic.in_use("h2") == 1
    assert logic._shared == {A: {"h2": None}}
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    assert (ticket.connection, ticket.shared, ticket.evict) == ("h2", True, None)
    assert logic.in_use("h2") == 2
    assert logic._shared == {A: {"h2": None}}
    _expect(logic, slots=1, idle=0, queued=0, active=2)
    third: Ticket[str] = Ticket(A)
    assert logic.acquire(third)
    assert third.connection == "h2"
    assert logic.in_use("h2") == 3
    assert logic._shared == {}
    _expect(logic, slots=1, idle=0, queued=0, active=3)
    # Releases bring it back under its capacity: shared again, then idle.
    assert logic.release("h2", reusable=True) == (None, None)
    assert (logic.in_use("h2"), logic._shared) == (2, {A: {"h2": None}})
    assert logic.release("h2", reusable=True) == (None, None)
    assert logic.release("h2", reusable=True) == (None, None)
    assert (logic.in_use("h2"), logic._shared, logic.is_idle("h2")) == (0, {}, True)
    _expect(logic, slots=1, idle=1, queued=0, active=0)


def test_reusing_an_idle_tracked_connection_makes_it_shared() -> None:
    """An idle HTTP/2 connection taken from the idle stack counts one request in use
    and is offered to the next request as shared."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 2)
    logic.release("h2", reusable=True)
    first: Ticket[str] = Ticket(A)
    assert logic.acquire(first)
    assert (first.connection, first.shared, logic.in_use("h2")) == ("h2", False, 1)
    assert logic._shared == {A: {"h2": None}}
    second: Ticket[str] = Ticket(A)
    assert logic.acquire(second)
    assert (second.connection, second.shared, logic.in_use("h2")) == ("h2", True, 2)
    assert logic._shared == {}
    _expect(logic, slots=1, idle=0, queued=0, active=2)


def test_register_with_capacity_one_is_not_shared_but_tracked_with_capacity_zero() -> None:
    """Capacity 1 at registration: untracked (HTTP/1.1); any other value tracks it, and
    capacity 0 (no stream allowed yet) shares nothing."""
    logic: Logic = PoolLogic(None, None)
    _open(logic, A, "h1", 1)
    assert not logic.tracked("h1")
    assert logic.in_use("h1") == 1
    _open(logic, B, "h2", 0)
    assert logic.tracked("h2")
    assert (logic.in_use("h2"), logic._shared) == (1, {})
    _expect(logic, slots=2, idle=0, queued=0, active=2)


def test_capacity_rise_grants_waiters_and_drop_unshares() -> None:
    """A raised stream limit goes to queued requests for the origin at once, up to the
    new limit exactly; a lowered one stops sharing; neither touches the slots."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 2)
    assert logic.set_capacity("h2", 1) == []
    assert logic._shared == {}
    waiters = [_queue(logic, A) for _ in range(4)]
    _expect(logic, slots=1, idle=0, queued=4, active=1)
    assert logic.set_capacity("h2", 3) == waiters[:2]
    assert all(t.shared and t.connection == "h2" for t in waiters[:2])
    assert logic.in_use("h2") == 3
    assert logic._shared == {}
    _expect(logic, slots=1, idle=0, queued=2, active=3)
    assert logic.set_capacity("h2", 5) == waiters[2:]
    assert logic.in_use("h2") == 5
    _expect(logic, slots=1, idle=0, queued=0, active=5)
    assert logic.set_capacity("h2", 10) == []
    assert logic._shared == {A: {"h2": None}}
    assert logic.set_capacity("h2", 5) == []
    assert logic._shared == {}
    assert logic.set_capacity("h2", 6) == []
    assert logic._shared == {A: {"h2": None}}
    _expect(logic, slots=1, idle=0, queued=0, active=5)


def test_capacity_rise_grants_only_waiters_of_its_origin() -> None:
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 2)
    logic.set_capacity("h2", 1)
    other = _queue(logic, B)
    same = _queue(logic, A)
    assert logic.set_capacity("h2", 4) == [same]
    assert not other.granted
    assert logic._shared == {A: {"h2": None}}
    _expect(logic, slots=1, idle=0, queued=1, active=2)


def test_capacity_change_while_idle_applies_on_reuse() -> None:
    """A new limit for an idle connection grants nothing then, and counts when reused."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 5)
    logic.release("h2", reusable=True)
    assert logic.set_capacity("h2", 2) == []
    assert logic.is_idle("h2")
    assert logic._shared == {}
    one: Ticket[str] = Ticket(A)
    two: Ticket[str] = Ticket(A)
    assert logic.acquire(one)
    assert logic.acquire(two)
    assert logic.in_use("h2") == 2
    assert logic._shared == {}
    _queue(logic, A)
    _expect(logic, slots=1, idle=0, queued=1, active=2)


def test_release_hands_the_freed_stream_to_the_oldest_waiter_for_the_origin() -> None:
    """A finished stream of a saturated connection goes to a waiter for its origin
    (skipping an older one for another origin), keeping in use and active unchanged."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 2)
    shared: Ticket[str] = Ticket(A)
    assert logic.acquire(shared)
    other = _queue(logic, B)
    same = _queue(logic, A)
    _expect(logic, slots=1, idle=0, queued=2, active=2)
    assert logic.release("h2", reusable=True) == (same, None)
    assert (same.connection, same.granted, same.shared) == ("h2", True, True)
    assert logic.in_use("h2") == 2
    assert logic._shared == {}
    _expect(logic, slots=1, idle=0, queued=1, active=2)
    # Last streams done with only another origin waiting: closed, slot handed over.
    assert logic.release("h2", reusable=True) == (None, None)
    assert logic._shared == {A: {"h2": None}}
    assert logic.release("h2", reusable=True) == (other, "h2")
    assert (other.granted, other.connection) == (True, None)
    assert not logic.tracked("h2")
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=[])


def test_release_of_a_lone_stream_to_a_same_origin_waiter_is_not_shared() -> None:
    """The only stream of a connection ends with a waiter for its origin: the waiter
    gets the connection, not marked shared (nothing else runs on it)."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 1 + 1)
    logic.set_capacity("h2", 1)
    waiter = _queue(logic, A)
    assert logic.release("h2", reusable=True) == (waiter, None)
    assert (waiter.connection, waiter.shared) == ("h2", False)
    assert logic.in_use("h2") == 1
    _expect(logic, slots=1, idle=0, queued=0, active=1)


def test_retiring_connection_counts() -> None:
    """A connection that may take no new streams: out of the shared set at once, its
    slot held until its last stream, then freed for the oldest waiter."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 4)
    for _ in range(2):
        logic.acquire(Ticket(A))
    _expect(logic, slots=1, idle=0, queued=0, active=3)
    assert logic.release("h2", reusable=False) == (None, None)
    assert logic._retiring == {"h2"}
    assert logic._shared == {}
    assert logic.in_use("h2") == 2
    _expect(logic, slots=1, idle=0, queued=0, active=2)
    waiter = _queue(logic, A)
    assert logic.release("h2", reusable=True) == (None, None)  # still retiring
    assert logic._shared == {}
    assert logic.set_capacity("h2", 10) == []
    _expect(logic, slots=1, idle=0, queued=1, active=1)
    assert logic.release("h2", reusable=True) == (waiter, "h2")
    assert not logic.tracked("h2")
    assert logic._retiring == set()
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=[])


def test_unreusable_last_stream_frees_the_slot_without_retiring() -> None:
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 2)
    assert logic.release("h2", reusable=False) == (None, "h2")
    assert logic._retiring == set()
    assert not logic.tracked("h2")
    _expect(logic, slots=0, idle=0, queued=0, active=0, connections=[])


def test_tracked_connection_parks_and_obeys_the_keepalive_limit() -> None:
    logic: Logic = PoolLogic(None, 1)
    _open(logic, A, "h2a", 2)
    _open(logic, B, "h2b", 2)
    assert logic.release("h2a", reusable=True) == (None, None)
    assert logic.release("h2b", reusable=True) == (None, "h2a")
    assert not logic.tracked("h2a")
    assert logic.tracked("h2b")
    _expect(logic, slots=1, idle=1, queued=0, active=0, connections=["h2b"])


# -- release, discard, swap and clear -----------------------------------------------


def test_release_unreusable_http11_frees_its_slot_for_the_oldest_waiter() -> None:
    logic: Logic = PoolLogic(2, None)
    _open(logic, A, "a1")
    _open(logic, A, "a2")
    waiter = _queue(logic, B)
    assert logic.release("a1", reusable=False) == (waiter, None)
    assert (waiter.granted, waiter.connection) == (True, None)
    _expect(logic, slots=2, idle=0, queued=0, active=2, connections=["a2"])
    assert logic.release("a2", reusable=False) == (None, None)
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=[])


def test_release_hands_an_http11_connection_to_a_same_origin_waiter() -> None:
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    waiter = _queue(logic, A)
    assert logic.release("a1", reusable=True) == (waiter, None)
    assert (waiter.connection, waiter.granted, waiter.shared) == ("a1", True, False)
    assert logic.in_use("a1") == 1
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=["a1"])


def test_discard_of_an_active_tracked_connection_and_in_use_of_untracked() -> None:
    """in_use is 1 for an active untracked connection, 0 idle or unknown."""
    logic: Logic = PoolLogic(None, None)
    _open(logic, A, "a1")
    assert logic.in_use("a1") == 1
    logic.release("a1", reusable=True)
    assert logic.in_use("a1") == 0
    assert logic.in_use("nope") == 0
    assert logic.discard("a1") is None
    assert logic.in_use("a1") == 0


def test_swap_for_slot_keeps_one_slot_and_the_other_idle_connections() -> None:
    """A reused connection that proved dead is swapped for a slot: the slot count is
    unchanged, the origin's other idle connections stay, nobody is woken."""
    logic: Logic = PoolLogic(3, None)
    for name in ("a1", "a2"):
        _open(logic, A, name)
    for name in ("a1", "a2"):
        logic.release(name, reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    assert ticket.connection == "a2"
    logic.swap_for_slot(ticket)
    assert _held(ticket) is None
    _expect(logic, slots=2, idle=1, queued=0, active=1, connections=["a1"])
    logic.register(ticket, "a3")
    _expect(logic, slots=2, idle=1, queued=0, active=1, connections=["a1", "a3"])


def test_discard_wakes_the_oldest_waiter_with_a_slot() -> None:
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    waiter = _queue(logic, B)
    assert logic.discard("a1") is waiter
    _expect(logic, slots=1, idle=0, queued=0, active=2, connections=[])
    # (the discarded connection's request still counts until it is released)
    assert logic.release("a1", reusable=False) == (None, None)
    _expect(logic, slots=1, idle=0, queued=0, active=1)


def test_clear_keeps_running_counts_only() -> None:
    logic: Logic = PoolLogic(None, None)
    _open(logic, A, "busy", 3)
    logic.acquire(Ticket(A))
    _open(logic, B, "idle", 2)
    logic.release("idle", reusable=True)
    _open(logic, C, "h1")
    assert sorted(logic.clear()) == ["busy", "h1", "idle"]
    assert logic._capacity == {"busy": 3}
    assert logic._in_use == {"busy": 2}
    assert (logic._shared, logic._idle, logic._retiring) == ({}, {}, set())
    _expect(logic, slots=0, idle=0, queued=0, active=3, connections=[])
    assert logic.release("busy", reusable=True) == (None, None)
    assert logic.tracked("busy")
    assert logic.release("busy", reusable=True) == (None, None)
    assert not logic.tracked("busy")
    assert logic.release("h1", reusable=True) == (None, None)
    _expect(logic, slots=0, idle=0, queued=0, active=0)


def test_waiter_behind_a_full_pool_gets_the_slot_of_a_cleared_connection() -> None:
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    waiter = _queue(logic, A)
    assert logic.clear() == ["a1"]
    assert logic.release("a1", reusable=True) == (waiter, None)
    assert (waiter.granted, waiter.connection) == (True, None)
    _expect(logic, slots=1, idle=0, queued=0, active=1)


def test_reuse_false_opens_a_new_slot_or_queues() -> None:
    """acquire(reuse=False) neither reuses an idle or shared connection nor evicts one
    while a slot is free; with the pool full it evicts the coldest."""
    logic: Logic = PoolLogic(3, None)
    _open(logic, A, "a1")
    _open(logic, A, "h2", 5)
    logic.release("a1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket, reuse=False)
    assert (ticket.connection, ticket.evict, ticket.shared) == (None, None, False)
    assert logic.in_use("h2") == 1
    _expect(logic, slots=3, idle=1, queued=0, active=2)
    full: Ticket[str] = Ticket(A)
    assert logic.acquire(full, reuse=False)
    assert (full.connection, full.evict) == (None, "a1")
    _expect(logic, slots=3, idle=0, queued=0, active=3)


def test_queue_is_fifo_once_anyone_waits() -> None:
    """With a request queued, a newcomer queues too even if an idle connection of
    another origin could be evicted (no overtaking)."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    first = _queue(logic, B)
    second = _queue(logic, C)
    assert logic.release("a1", reusable=True) == (first, "a1")
    _expect(logic, slots=1, idle=0, queued=1, active=1)
    assert second in logic._waiters


def test_ticket_defaults() -> None:
    ticket: Ticket[typing.Any] = Ticket(A)
    assert (ticket.key, ticket.connection, ticket.granted, ticket.evict) == (A, None, False, None)
    assert (ticket.waiter, ticket.shared) == (None, False)


# -- limits lowered below what is in use, and calls after clear() --------------------


def test_lowered_capacity_below_in_use_neither_grants_nor_shares_on_release() -> None:
    """The server lowered its stream limit below the streams running: a finished stream
    frees nothing while in use is still at (or over) the new limit, neither for a
    waiter nor for a later request; below it, both again."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 4)
    for _ in range(3):
        assert logic.acquire(Ticket(A))
    assert logic.in_use("h2") == 4
    assert logic.set_capacity("h2", 2) == []
    waiter = _queue(logic, A)
    _expect(logic, slots=1, idle=0, queued=1, active=4)
    assert logic.release("h2", reusable=True) == (None, None)  # 3 in use, limit 2
    assert logic.release("h2", reusable=True) == (None, None)  # 2 in use, limit 2
    assert not waiter.granted
    assert logic._shared == {}
    _expect(logic, slots=1, idle=0, queued=1, active=2)
    assert logic.release("h2", reusable=True) == (waiter, None)  # 1 in use: room
    assert (waiter.connection, waiter.shared) == ("h2", True)
    _expect(logic, slots=1, idle=0, queued=0, active=2)
    # Same without a waiter: not shared at the limit, shared below it.
    assert logic.acquire(Ticket(A)) is False
    logic.cancel(next(iter(logic._waiters)))
    logic.set_capacity("h2", 1)
    assert logic.release("h2", reusable=True) == (None, None)  # 1 in use, limit 1
    assert logic._shared == {}
    logic.set_capacity("h2", 3)
    assert logic._shared == {A: {"h2": None}}
    _expect(logic, slots=1, idle=0, queued=0, active=1)


def test_discarding_an_unknown_connection_grants_no_slot_in_a_full_pool() -> None:
    """Discarding a connection the pool no longer holds frees nothing: a waiter behind a
    full pool stays queued (the pool never grants more than max_connections)."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    waiter = _queue(logic, A)
    assert logic.discard("gone") is None
    assert not waiter.granted
    _expect(logic, slots=1, idle=0, queued=1, active=1, connections=["a1"])


def test_cancelling_a_reuse_grant_after_clear_ends_the_request_once() -> None:
    """A request granted an idle connection that the pool then forgot (clear()) and
    that gives up: its request ends, exactly once, and nothing is parked."""
    logic: Logic = PoolLogic(2, None)
    _open(logic, A, "a1")
    logic.release("a1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    assert ticket.connection == "a1"
    assert logic.clear() == ["a1"]
    _expect(logic, slots=0, idle=0, queued=0, active=1)
    assert logic.cancel(ticket) == (None, None)
    assert (ticket.granted, _held(ticket)) == (False, None)
    _expect(logic, slots=0, idle=0, queued=0, active=0, connections=[])


def test_cancelling_a_reuse_grant_after_clear_wakes_a_waiter() -> None:
    """After clear() no slot is taken, so the waiter queued behind the cancelled
    request should be granted one (as release() of a cleared connection does)."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    logic.release("a1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    waiter = _queue(logic, A)
    logic.clear()
    assert logic.cancel(ticket) == (waiter, None)


def test_swap_for_slot_after_clear_takes_a_fresh_slot() -> None:
    """A reused connection the pool has forgotten meanwhile (clear()) is swapped for a
    fresh slot: one slot taken, which the new connection then holds."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "a1")
    logic.release("a1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    logic.clear()
    _expect(logic, slots=0, idle=0, queued=0, active=1)
    logic.swap_for_slot(ticket)
    assert ticket.connection is None
    _expect(logic, slots=1, idle=0, queued=0, active=1, connections=[])
    _queue(logic, B)
    logic.register(ticket, "a2")
    _expect(logic, slots=1, idle=0, queued=1, active=1, connections=["a2"])


def test_clear_forgets_retiring_connections() -> None:
    """A retiring connection still in use at clear() is no longer listed as retiring;
    its in-use count stays until its last release, which forgets it."""
    logic: Logic = PoolLogic(1, None)
    _open(logic, A, "h2", 3)
    logic.acquire(Ticket(A))
    logic.release("h2", reusable=False)
    assert logic._retiring == {"h2"}
    assert logic.clear() == ["h2"]
    assert logic._retiring == set()
    assert (logic._in_use, logic._capacity) == ({"h2": 1}, {"h2": 3})
    _expect(logic, slots=0, idle=0, queued=0, active=1)
    assert logic.release("h2", reusable=True) == (None, None)
    assert not logic.tracked("h2")
    _expect(logic, slots=0, idle=0, queued=0, active=0)
