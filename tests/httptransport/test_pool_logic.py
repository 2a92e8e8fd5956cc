"""The pool's sans-IO assignment logic: slots, idle stacks, FIFO hand-off, cancellation."""

from __future__ import annotations

import threading
import time

from httptransport._async._pool_logic import AsyncPoolLock, PoolLock, PoolLogic, Ticket

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
    """Releasing with thousands of queued waiters takes constant time per release."""

    def run(waiters: int) -> float:
        logic: PoolLogic[str] = PoolLogic(1, None)
        _open(logic, A, "c1")
        for _ in range(waiters):
            logic.acquire(Ticket(A))
        start = time.perf_counter()
        for _ in range(1000):
            logic.release("c1", reusable=True)
        return time.perf_counter() - start

    small, large = run(1000), run(20000)
    assert large < small * 10  # an O(N) scan would be ~20x slower


def test_locks() -> None:
    """The async lock is a no-op; the sync one excludes other threads."""
    with AsyncPoolLock():
        pass
    lock = PoolLock()
    results: list[bool] = []

    def try_lock() -> None:
        acquired = lock._lock.acquire(blocking=False)
        results.append(acquired)
        if acquired:
            lock._lock.release()

    with lock:
        other = threading.Thread(target=try_lock)
        other.start()
        other.join()
    try_lock()
    assert results == [False, True]
