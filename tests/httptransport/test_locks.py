"""The lock around sections that never await, and the waiters of queued requests
(httptransport._locks)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from httptransport._locks import AsyncPoolWaiters, AsyncThreadLock, PoolWaiters, ThreadLock
from netbackend_base import AsyncEvent, Event


def test_locks() -> None:
    """The async lock is a no-op; the sync one excludes other threads."""
    with AsyncThreadLock():
        pass
    lock = ThreadLock()
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


# -- the waiters of queued requests ------------------------------------------------


def test_asyncio_waiters_are_futures_sharing_one_timer() -> None:
    """On asyncio a waiter is a plain future; all timeouts share one timer, armed for the
    earliest deadline, and each waiter times out at its own deadline."""

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        loop = asyncio.get_running_loop()
        slow, fast, woken = waiters.create(), waiters.create(), waiters.create()
        assert isinstance(slow, asyncio.Future)
        results: dict[str, tuple[bool, float]] = {}

        async def wait(name: str, waiter: object, timeout: float | None) -> None:
            start = loop.time()
            granted = await waiters.wait(waiter, timeout)
            results[name] = (granted, loop.time() - start)

        tasks = [asyncio.ensure_future(wait("slow", slow, 0.2))]
        await asyncio.sleep(0)
        timer = waiters._timer
        assert timer is not None
        tasks.append(asyncio.ensure_future(wait("woken", woken, 0.15)))
        await asyncio.sleep(0)
        assert waiters._timer is not timer  # an earlier deadline re-arms the one timer
        timer = waiters._timer
        tasks.append(asyncio.ensure_future(wait("fast", fast, 0.05)))
        tasks.append(asyncio.ensure_future(wait("forever", waiters.create(), None)))
        await asyncio.sleep(0)
        assert waiters._timer is not timer
        waiters.wake(woken)
        waiters.wake(woken)  # waking twice is harmless
        await asyncio.sleep(0.3)
        waiters.wake(fast)  # after its timeout: harmless too
        assert results["woken"][0] is True
        assert results["fast"][1] >= 0.04
        assert results["fast"][0] is False
        assert results["slow"][0] is False
        assert results["slow"][1] >= 0.19
        assert "forever" not in results
        assert waiters._deadlines == {}
        tasks[-1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())


def test_cancelled_asyncio_waiter_leaves_no_deadline() -> None:
    """A cancelled wait forgets its deadline; the timer then fires and finds nothing."""

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        waiter = waiters.create()
        task = asyncio.ensure_future(waiters.wait(waiter, 0.01))
        await asyncio.sleep(0)
        assert len(waiters._deadlines) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert waiters._deadlines == {}
        waiters.wake(waiter)  # a cancelled future is not woken
        await asyncio.sleep(0.05)
        assert waiters._timer is None

    asyncio.run(main())


def test_asyncio_waiters_follow_the_pool_to_a_new_loop() -> None:
    """A pool may outlive one asyncio.run: its waiters bind to the loop running now."""
    waiters = AsyncPoolWaiters()

    async def main() -> bool:
        return await waiters.wait(waiters.create(), 0.0)

    assert asyncio.run(main()) is False
    first = waiters._loop
    assert asyncio.run(main()) is False
    assert waiters._loop is not first


def test_trio_waiters_are_events() -> None:
    """Under trio a waiter is an event with a timeout."""
    trio = pytest.importorskip("trio")

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        waiter = waiters.create()
        assert isinstance(waiter, AsyncEvent)
        assert await waiters.wait(waiter, 0.01) is False
        waiters.wake(waiter)
        assert await waiters.wait(waiter, 0.01) is True

    trio.run(main)


def test_sync_waiters_are_events() -> None:
    """The blocking twin: an event per waiter, woken from any thread."""
    waiters = PoolWaiters()
    waiter = waiters.create()
    assert isinstance(waiter, Event)
    assert waiters.wait(waiter, 0.01) is False
    threading.Timer(0.01, waiters.wake, (waiter,)).start()
    assert waiters.wait(waiter, 5.0) is True
