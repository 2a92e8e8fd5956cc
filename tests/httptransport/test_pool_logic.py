"""The pool's sans-IO assignment logic: slots, idle stacks, FIFO hand-off, cancellation."""

from __future__ import annotations

import time

from httptransport._pool_logic import PoolLogic, Ticket

A = ("http", "a", 80)
B = ("http", "b", 80)


def _open(logic: PoolLogic[str], key: object, name: str) -> Ticket[str]:
    ticket: Ticket[str] = Ticket(key)
    assert logic.acquire(ticket)
    assert ticket.connection is None
    logic.register(ticket, name)
    return ticket


def test_new_slots_then_queue() -> None:
    """Requests get slots up to max_connections, then queue in order."""
    logic: PoolLogic[str] = PoolLogic(2, None)
    _open(logic, A, "c1")
    _open(logic, A, "c2")
    waiting: Ticket[str] = Ticket(A)
    assert not logic.acquire(waiting)
    assert (logic.slot_count, logic.queued_count, logic.active_requests) == (2, 1, 2)


def test_release_hands_off_to_same_origin_waiter() -> None:
    """A released connection goes straight to the oldest waiter for its origin."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open(logic, A, "c1")
    waiter: Ticket[str] = Ticket(A)
    logic.acquire(waiter)
    woken, to_close = logic.release("c1", reusable=True)
    assert woken is waiter
    assert (waiter.connection, to_close, logic.idle_count) == ("c1", None, 0)
    assert logic.active_requests == 1


def test_release_to_other_origin_waiter_closes_and_grants_slot() -> None:
    """If the oldest waiter wants another origin, the connection is closed for its slot."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open(logic, A, "c1")
    waiter: Ticket[str] = Ticket(B)
    logic.acquire(waiter)
    woken, to_close = logic.release("c1", reusable=True)
    assert (woken, to_close) == (waiter, "c1")
    assert waiter.granted
    assert waiter.connection is None
    assert logic.slot_count == 1
    logic.register(waiter, "c2")
    assert logic.connections == {"c2": B}


def test_idle_stacks_are_lifo_per_origin() -> None:
    """The most recently released idle connection of an origin is reused first."""
    logic: PoolLogic[str] = PoolLogic(None, None)
    for name in ("c1", "c2", "c3"):
        _open(logic, A, name)
    _open(logic, B, "b1")
    for name in ("c1", "c2", "c3", "b1"):
        logic.release(name, reusable=True)
    assert logic.oldest_idle() == "c1"
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    assert ticket.connection == "c3"
    assert logic.is_idle("c1")
    assert not logic.is_idle("c3")


def test_full_pool_evicts_coldest_idle_for_new_origin() -> None:
    """A full pool closes its coldest idle connection to serve another origin."""
    logic: PoolLogic[str] = PoolLogic(2, None)
    _open(logic, A, "a1")
    _open(logic, A, "a2")
    logic.release("a1", reusable=True)
    logic.release("a2", reusable=True)
    ticket: Ticket[str] = Ticket(B)
    assert logic.acquire(ticket)
    assert ticket.evict == "a1"
    assert list(logic.connections) == ["a2"]


def test_keepalive_limit_counts_idle_only() -> None:
    """Beyond max_idle parked connections, the coldest is closed; active ones never are."""
    logic: PoolLogic[str] = PoolLogic(10, 1)
    for name in ("c1", "c2", "c3"):
        _open(logic, A, name)
    assert logic.slot_count == 3
    assert logic.release("c1", reusable=True) == (None, None)
    assert logic.release("c2", reusable=True) == (None, "c1")
    assert logic.release("c3", reusable=True) == (None, "c2")
    assert list(logic.connections) == ["c3"]


def test_discard_frees_slot_for_waiter() -> None:
    """Discarding a connection (idle or broken) grants its slot to the next waiter."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open(logic, A, "c1")
    logic.release("c1", reusable=True)
    assert logic.discard("c1") is None
    assert logic.idle_count == 0
    _open(logic, A, "c2")
    waiter: Ticket[str] = Ticket(A)
    logic.acquire(waiter)
    woken, to_close = logic.release("c2", reusable=False)
    assert (woken, to_close) == (waiter, None)
    assert waiter.granted
    assert waiter.connection is None


def test_cancel_in_every_state() -> None:
    """Cancelling a queued, slot-holding or connection-holding ticket gives it all back."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    holder = _open(logic, A, "c1")
    queued: Ticket[str] = Ticket(A)
    logic.acquire(queued)
    assert logic.cancel(queued) == (None, None)
    assert logic.queued_count == 0
    # A waiter granted the connection but cancelled before using it passes it on.
    first: Ticket[str] = Ticket(A)
    second: Ticket[str] = Ticket(A)
    logic.acquire(first)
    logic.acquire(second)
    assert logic.release("c1", reusable=True)[0] is first
    assert logic.cancel(first) == (second, None)
    assert second.connection == "c1"
    assert logic.release("c1", reusable=False) == (None, None)
    # A ticket granted a bare slot that gives up before connecting frees it.
    slot: Ticket[str] = Ticket(A)
    assert logic.acquire(slot)
    waiter: Ticket[str] = Ticket(A)
    logic.acquire(waiter)
    assert logic.cancel(slot) == (waiter, None)
    assert logic.active_requests == 1
    assert holder.key == A


def test_swap_for_slot_and_clear() -> None:
    """A dead idle connection is swapped for a slot; clear() forgets everything."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open(logic, A, "c1")
    logic.release("c1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    logic.swap_for_slot(ticket)
    assert logic.connections == {}
    assert logic.slot_count == 1
    logic.register(ticket, "c2")
    assert logic.clear() == ["c2"]
    # Releasing a connection the pool forgot is harmless.
    assert logic.release("c2", reusable=True) == (None, None)
    assert logic.active_requests == 0


def test_reuse_false_skips_idle() -> None:
    """acquire(reuse=False) opens a new connection even with an idle one available."""
    logic: PoolLogic[str] = PoolLogic(None, None)
    _open(logic, A, "c1")
    logic.release("c1", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket, reuse=False)
    assert ticket.connection is None
    assert logic.idle_count == 1


def test_cost_does_not_grow_with_waiters() -> None:
    """Releasing with thousands of queued waiters takes constant time per release.

    A complexity check, not a speed check: the fastest of five runs of each size is
    compared, so that a run slowed by the machine (another process, a collection) does
    not decide it.
    """

    def run(waiters: int) -> float:
        logic: PoolLogic[str] = PoolLogic(1, None)
        _open(logic, A, "c1")
        for _ in range(waiters):
            logic.acquire(Ticket(A))
        start = time.perf_counter()
        for _ in range(1000):
            logic.release("c1", reusable=True)
        return time.perf_counter() - start

    small = min(run(1000) for _ in range(5))
    large = min(run(20000) for _ in range(5))
    assert large < small * 10  # an O(N) scan would be ~20x slower


def _open_shared(logic: PoolLogic[str], key: object, name: str, capacity: int) -> Ticket[str]:
    ticket: Ticket[str] = Ticket(key)
    assert logic.acquire(ticket)
    assert logic.register(ticket, name, capacity) == []
    return ticket


def test_multiplexed_connection_is_shared_up_to_its_capacity() -> None:
    """A tracked connection takes requests up to its capacity, then a new slot is opened."""
    logic: PoolLogic[str] = PoolLogic(2, None)
    _open_shared(logic, A, "h2", 3)
    grants: list[Ticket[str]] = [Ticket(A) for _ in range(2)]
    for ticket in grants:
        assert logic.acquire(ticket)
        assert (ticket.connection, ticket.shared) == ("h2", True)
    assert logic.in_use("h2") == 3
    extra: Ticket[str] = Ticket(A)
    assert logic.acquire(extra)
    assert extra.connection is None  # saturated: a new connection in a new slot
    assert logic.slot_count == 2
    assert logic.tracked("h2")
    assert not logic.tracked("other")


def test_released_stream_capacity_goes_to_a_waiter_for_that_origin() -> None:
    """Freed capacity on a shared connection goes to the oldest waiter for its origin,
    even behind a waiter for another origin."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open_shared(logic, A, "h2", 2)
    assert logic.set_capacity("h2", 1) == []
    other: Ticket[str] = Ticket(B)
    same: Ticket[str] = Ticket(A)
    assert not logic.acquire(other)
    assert not logic.acquire(same)
    assert logic.set_capacity("h2", 2) == [same]
    assert (same.connection, same.granted, logic.in_use("h2")) == ("h2", True, 2)
    later: Ticket[str] = Ticket(A)
    assert not logic.acquire(later)
    woken, to_close = logic.release("h2", reusable=True)
    assert (woken, to_close) == (later, None)
    assert later.shared
    assert logic.queued_count == 1


def test_last_release_parks_or_hands_the_slot_over() -> None:
    """An unused tracked connection is parked; with another origin waiting it is closed
    and its slot handed over."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    ticket = _open_shared(logic, A, "h2", 5)
    assert logic.release("h2", reusable=True) == (None, None)
    assert logic.is_idle("h2")
    reused: Ticket[str] = Ticket(A)
    assert logic.acquire(reused)
    assert (reused.connection, reused.shared, logic.in_use("h2")) == ("h2", False, 1)
    second: Ticket[str] = Ticket(A)
    assert logic.acquire(second)
    assert second.shared
    other: Ticket[str] = Ticket(B)
    assert not logic.acquire(other)
    assert logic.release("h2", reusable=True) == (None, None)
    woken, to_close = logic.release("h2", reusable=True)
    assert (woken, to_close) == (other, "h2")
    assert other.granted
    assert other.connection is None
    assert not logic.tracked("h2")
    assert ticket.key == A


def test_retiring_connection_keeps_its_slot_until_the_last_request() -> None:
    """A connection that may take no new requests leaves the shared set at once and
    frees its slot when its last request is done."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open_shared(logic, A, "h2", 4)
    logic.acquire(Ticket(A))
    assert logic.release("h2", reusable=False) == (None, None)
    assert "h2" in logic.connections
    waiting: Ticket[str] = Ticket(A)
    assert not logic.acquire(waiting)  # not shared any more, and the slot is taken
    assert logic.release("h2", reusable=True) == (waiting, "h2")
    assert logic.connections == {}
    assert waiting.granted
    assert waiting.connection is None


def test_lowered_capacity_stops_sharing_and_raise_refills() -> None:
    """Lowering the capacity to the requests in use stops new grants; raising it again
    grants waiters at once; unknown or untracked connections are ignored."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open_shared(logic, A, "h2", 10)
    logic.acquire(Ticket(A))
    assert logic.set_capacity("h2", 2) == []
    assert logic.set_capacity("h2", 2) == []
    blocked: list[Ticket[str]] = [Ticket(A), Ticket(A)]
    for ticket in blocked:
        assert not logic.acquire(ticket)
    assert logic.set_capacity("h2", 1) == []
    assert logic.set_capacity("h2", 4) == blocked
    assert logic.set_capacity("nope", 3) == []
    _, _ = logic.release("h2", reusable=True)
    assert logic.in_use("h2") == 3
    assert logic.set_capacity("h2", 3) == []  # in use == capacity: not shared
    assert logic.acquire(Ticket(A)) is False


def test_capacity_change_of_idle_or_retiring_connection_grants_nothing() -> None:
    """Capacity changes on idle or retiring connections never grant anything."""
    logic: PoolLogic[str] = PoolLogic(2, None)
    _open_shared(logic, A, "h2", 2)
    logic.release("h2", reusable=True)
    assert logic.set_capacity("h2", 5) == []
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    logic.acquire(Ticket(A))
    logic.release("h2", reusable=False)
    assert logic.set_capacity("h2", 9) == []


def test_cancel_queued_ticket_and_shared_grant() -> None:
    """Cancelling a queued ticket removes it from both queues; cancelling a shared grant
    gives one request back."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open_shared(logic, A, "h2", 2)
    assert logic.set_capacity("h2", 1) == []
    queued: Ticket[str] = Ticket(A)
    assert not logic.acquire(queued)
    assert logic.cancel(queued) == (None, None)
    assert logic.queued_count == 0
    assert logic.set_capacity("h2", 2) == []
    shared: Ticket[str] = Ticket(A)
    assert logic.acquire(shared)
    assert logic.cancel(shared) == (None, None)
    assert logic.in_use("h2") == 1
    assert logic.in_use("other") == 0


def test_register_grants_queued_requests_for_the_new_connection() -> None:
    """Registering a multiplexed connection hands its spare capacity to queued requests
    for its origin at once."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    first: Ticket[str] = Ticket(A)
    assert logic.acquire(first)
    queued: list[Ticket[str]] = [Ticket(A), Ticket(A), Ticket(A)]
    for ticket in queued:
        assert not logic.acquire(ticket)
    assert logic.register(first, "h2", 3) == queued[:2]
    assert logic.queued_count == 1


def test_clear_and_discard_forget_tracked_connections() -> None:
    """Clearing the pool keeps only the counts of requests still running; their releases
    then forget the connection; discarding an idle tracked connection forgets it too."""
    logic: PoolLogic[str] = PoolLogic(3, None)
    _open_shared(logic, A, "busy", 2)
    _open_shared(logic, B, "idle", 2)
    logic.release("idle", reusable=True)
    assert sorted(logic.clear()) == ["busy", "idle"]
    assert not logic.tracked("idle")
    assert logic.release("busy", reusable=True) == (None, None)
    assert not logic.tracked("busy")
    _open_shared(logic, A, "again", 2)
    logic.release("again", reusable=True)
    assert logic.discard("again") is None
    assert not logic.tracked("again")


def test_swap_for_slot_and_eviction_forget_tracked_connections() -> None:
    """A dead idle tracked connection swapped for a slot, or evicted as the coldest,
    is forgotten."""
    logic: PoolLogic[str] = PoolLogic(1, None)
    _open_shared(logic, A, "h2", 2)
    logic.release("h2", reusable=True)
    ticket: Ticket[str] = Ticket(A)
    assert logic.acquire(ticket)
    logic.swap_for_slot(ticket)
    assert not logic.tracked("h2")
    logic.register(ticket, "h2b", 2)
    logic.release("h2b", reusable=True)
    other: Ticket[str] = Ticket(B)
    assert logic.acquire(other)
    assert other.evict == "h2b"
    assert not logic.tracked("h2b")
