"""The lock around sections that never await, and the waiters of queued requests
(httptransport._locks)."""

from __future__ import annotations

import asyncio
import threading
import typing

import pytest

from httptransport._locks import AsyncPoolWaiters, AsyncThreadLock, PoolWaiters, ThreadLock
from netbackend_base import AsyncEvent, Event


def test_locks() -> None:
    """Both are plain threading locks (the async one only because that is cheap);
    the sync one excludes other threads."""
    lock_type = type(threading.Lock())
    assert type(AsyncThreadLock()) is lock_type
    with AsyncThreadLock():
        pass
    lock = ThreadLock()
    assert type(lock) is lock_type
    results: list[bool] = []

    def try_lock() -> None:
        acquired = lock.acquire(blocking=False)
        results.append(acquired)
        if acquired:
            lock.release()

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


# -- under trio ---------------------------------------------------------------------


def _trio_testing() -> tuple[typing.Any, typing.Any]:
    return pytest.importorskip("trio"), pytest.importorskip("trio.testing")


def _timer_running(waiters: AsyncPoolWaiters) -> bool:
    return waiters._trio_timer


def test_trio_waiters_park_the_task_and_wake_it() -> None:
    """Under trio a waiter parks its task (no event, no timer for an untimed wait);
    woken before it waits, it returns at once; waking twice is harmless."""
    trio, testing = _trio_testing()

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        early = waiters.create()
        assert not isinstance(early, (AsyncEvent, asyncio.Future))
        waiters.wake(early)
        waiters.wake(early)
        assert await waiters.wait(early, 5.0) is True
        assert await waiters.wait(waiters.create(), 0.0) is False
        results: list[bool] = []
        waiter = waiters.create()

        async def wait(timeout: float | None) -> None:
            results.append(await waiters.wait(waiter, timeout))

        for timeout in (None, 5.0):
            waiter = waiters.create()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait, timeout)
                await testing.wait_all_tasks_blocked()
                assert len(results) == (timeout is not None)
                assert waiter._task is not None
                waiters.wake(waiter)
                waiters.wake(waiter)  # waking twice is harmless
                assert waiter._task is None
            assert waiters._trio_deadlines == {}
        assert results == [True, True]

    trio.run(main)


def test_trio_waiters_share_one_timer() -> None:
    """All timeouts of a pool share one system task: it sleeps for the earliest deadline
    (moved earlier by a nearer one, not by a later one), each waiter times out at its own
    deadline, a wake after the timeout is harmless, and the timer ends with no waiters."""
    trio, testing = _trio_testing()
    clock = testing.MockClock(autojump_threshold=0)

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        results: dict[str, tuple[bool, float]] = {}
        named = {name: waiters.create() for name in ("slow", "woken", "fast", "later")}

        async def wait(name: str, timeout: float | None) -> None:
            start = trio.current_time()
            granted = await waiters.wait(named[name], timeout)
            results[name] = (granted, trio.current_time() - start)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait, "slow", 20.0)
            await testing.wait_all_tasks_blocked()  # (before the clock jumps)
            assert waiters._trio_timer
            assert waiters._trio_at == pytest.approx(20.0)
            nursery.start_soon(wait, "woken", 15.0)
            nursery.start_soon(wait, "fast", 5.0)
            nursery.start_soon(wait, "later", 30.0)
            await testing.wait_all_tasks_blocked()
            assert waiters._trio_at == pytest.approx(5.0)  # the earliest; one timer
            assert waiters._trio_scope.deadline == pytest.approx(5.0)
            root = trio.lowlevel.current_root_task()
            names = [task.name for n in root.child_nurseries for task in n.child_tasks]
            assert names.count("httptransport pool timer") == 1
            waiters.wake(named["woken"])
            await trio.sleep(25.0)
            waiters.wake(named["fast"])  # after its timeout: harmless
            assert waiters._trio_timer  # "later" still waits
        expected = {"woken": (True, 0.0), "fast": (False, 5.0), "slow": (False, 20.0)}
        expected["later"] = (False, 30.0)
        for name, (granted, waited) in expected.items():
            assert results[name][0] is granted
            assert results[name][1] == pytest.approx(waited)
        assert waiters._trio_deadlines == {}
        await testing.wait_all_tasks_blocked()
        assert not _timer_running(waiters)
        assert waiters._trio_scope is None
        assert trio.current_time() == pytest.approx(30.0)

    trio.run(main, clock=clock)


def test_trio_waiter_woken_just_as_it_times_out() -> None:
    """Granted and timed out in the same tick (trio runs the timer and the granting task
    in either order): the first to settle the waiter wins, the other finds it settled,
    and the wait returns what the first said (the pool then checks its ticket)."""
    trio, testing = _trio_testing()
    orders: set[bool] = set()

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        results: list[bool] = []
        waiter = waiters.create()

        async def wait() -> None:
            results.append(await waiters.wait(waiter, 1.0))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait)
            await testing.wait_all_tasks_blocked()
            await trio.sleep(1.0)  # wakes in the same tick as the timer
            timed_out_first = waiter.done()
            assert results == []  # the waiting task runs in the next batch
            waiters.wake(waiter)
            orders.add(timed_out_first)
        assert results == [not timed_out_first]
        assert waiters._trio_deadlines == {}

    for _ in range(40):
        trio.run(main, clock=testing.MockClock(autojump_threshold=0))
    assert orders == {True, False}


def test_cancelled_trio_waiter_leaves_no_deadline() -> None:
    """A cancelled wait raises trio.Cancelled, forgets its deadline and leaves its waiter
    settled (a later wake does nothing); the timer then wakes, finds nobody, and ends."""
    trio, testing = _trio_testing()

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        for timeout in (None, 10.0):
            waiter = waiters.create()
            raised: list[BaseException] = []

            async def wait(
                waiter: object = waiter,
                timeout: float | None = timeout,
                raised: list[BaseException] = raised,
            ) -> None:
                try:
                    await waiters.wait(waiter, timeout)
                except BaseException as exc:
                    raised.append(exc)
                    raise

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait)
                await testing.wait_all_tasks_blocked()
                assert len(waiters._trio_deadlines) == (timeout is not None)
                nursery.cancel_scope.cancel()
            assert len(raised) == 1
            assert isinstance(raised[0], trio.Cancelled)
            assert waiters._trio_deadlines == {}
            assert waiter.done()
            assert waiter._task is None
            waiters.wake(waiter)  # harmless
        assert waiters._trio_timer
        await trio.sleep(20.0)
        assert not _timer_running(waiters)

    trio.run(main, clock=testing.MockClock(autojump_threshold=0))


def test_trio_waiters_follow_the_pool_to_a_new_run() -> None:
    """A pool may outlive one trio.run: the timer of the first run is gone (cancelled
    with it, still asleep), and the next run spawns its own."""
    trio, testing = _trio_testing()
    waiters = AsyncPoolWaiters()

    async def main() -> tuple[bool, bool]:
        timed_out = await waiters.wait(waiters.create(), 1.0)
        # A second waiter keeps the timer asleep (for an hour) past the run's end.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiters.wait, waiters.create(), 3600.0)
            await testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        return timed_out, waiters._trio_timer

    assert trio.run(main, clock=testing.MockClock(autojump_threshold=0)) == (False, True)
    first = waiters._trio_run
    assert trio.run(main, clock=testing.MockClock(autojump_threshold=0)) == (False, True)
    assert waiters._trio_run is not first


def test_trio_waiters_among_asyncio_runs() -> None:
    """One pool's waiters on asyncio, then trio, then asyncio again."""
    trio = pytest.importorskip("trio")
    waiters = AsyncPoolWaiters()

    async def main() -> bool:
        waiter = waiters.create()
        waiters.wake(waiter)
        return await waiters.wait(waiter, 1.0) and not await waiters.wait(waiters.create(), 0)

    assert asyncio.run(main()) is True
    assert trio.run(main) is True
    assert asyncio.run(main()) is True


def test_trio_pool_timeout_nan_is_refused() -> None:
    """A NaN pool timeout is refused in the waiting task (the timer never sees it)."""
    trio = pytest.importorskip("trio")

    async def main() -> None:
        waiters = AsyncPoolWaiters()
        waiter = waiters.create()
        with pytest.raises(ValueError, match="NaN"):
            await waiters.wait(waiter, float("nan"))
        assert not waiters._trio_timer
        assert waiter._task is None
        waiters.wake(waiter)
        assert await waiters.wait(waiter, None) is True

    trio.run(main)


def test_sync_waiters_are_events() -> None:
    """The blocking twin: an event per waiter, woken from any thread."""
    waiters = PoolWaiters()
    waiter = waiters.create()
    assert isinstance(waiter, Event)
    assert waiters.wait(waiter, 0.01) is False
    threading.Timer(0.01, waiters.wake, (waiter,)).start()
    assert waiters.wait(waiter, 5.0) is True
