"""Lock, event, semaphore, sleep and shielded cleanup on asyncio and trio, and their twins."""

from __future__ import annotations

import asyncio
import threading
import time

import anyio
import pytest
import sniffio

import netbackend_base
from netbackend_base import (
    AsyncEvent,
    AsyncLock,
    AsyncSemaphore,
    Event,
    Lock,
    Semaphore,
    async_shielded,
    async_sleep,
    current_async_library,
    shielded,
    sleep,
)

# --- current_async_library -------------------------------------------------------


@pytest.mark.anyio
async def test_current_async_library_names_the_running_loop(anyio_backend: str) -> None:
    """Inside anyio the running library is reported, anyio on trio counting as trio."""
    assert current_async_library() == anyio_backend


def test_current_async_library_outside_a_loop_raises() -> None:
    """Outside any event loop current_async_library raises RuntimeError."""
    with pytest.raises(RuntimeError, match="no running event loop"):
        current_async_library()


def test_current_async_library_rejects_other_libraries() -> None:
    """A library other than asyncio or trio (here: curio) is refused with RuntimeError."""
    sniffio.thread_local.name = "curio"
    try:
        with pytest.raises(RuntimeError, match="curio"):
            current_async_library()
    finally:
        sniffio.thread_local.name = None


# --- AsyncLock ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_lock_excludes_a_second_task() -> None:
    """A task waiting on a held AsyncLock gets it only after the holder releases."""
    lock = AsyncLock()
    got_it = anyio.Event()

    async def contender() -> None:
        async with lock:
            got_it.set()

    async with anyio.create_task_group() as tg:
        await lock.acquire()
        assert lock.locked()
        tg.start_soon(contender)
        await anyio.wait_all_tasks_blocked()
        assert not got_it.is_set()
        lock.release()
        await got_it.wait()
    assert not lock.locked()


@pytest.mark.anyio
async def test_async_lock_context_manager_releases_on_error() -> None:
    """Leaving ``async with lock`` through an exception releases the lock."""
    lock = AsyncLock()
    assert not lock.locked()

    async def fail_inside() -> None:
        async with lock:
            assert lock.locked()
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await fail_inside()
    assert not lock.locked()


def test_async_lock_release_unacquired_raises_runtime_error() -> None:
    """Releasing an AsyncLock never acquired raises RuntimeError, like asyncio's and trio's."""
    with pytest.raises(RuntimeError):
        AsyncLock().release()


# --- AsyncEvent --------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_event_wait_times_out_with_false() -> None:
    """wait(timeout) on an event nobody sets returns False after the timeout."""
    event = AsyncEvent()
    assert await event.wait(timeout=0.01) is False
    assert not event.is_set()


@pytest.mark.anyio
async def test_async_event_set_before_wait() -> None:
    """An event set before anyone waits makes wait() and wait(timeout) return True at once."""
    event = AsyncEvent()
    event.set()
    assert event.is_set()
    assert await event.wait() is True
    assert await event.wait(timeout=0) is True


@pytest.mark.parametrize("timeout", [None, 30.0])
@pytest.mark.anyio
async def test_async_event_set_while_waiting(timeout: float | None) -> None:
    """A task blocked in wait() wakes up with True when another task sets the event."""
    event = AsyncEvent()
    results: list[bool] = []

    async def waiter() -> None:
        results.append(await event.wait(timeout=timeout))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert results == []
        event.set()
    assert results == [True, True]


@pytest.mark.anyio
async def test_async_event_timeout_then_set() -> None:
    """After a wait() timed out, setting the event still wakes later waiters."""
    event = AsyncEvent()
    assert await event.wait(timeout=0.01) is False
    event.set()
    assert await event.wait(timeout=0.01) is True


@pytest.mark.anyio
async def test_async_event_wait_is_cancellable() -> None:
    """A cancelled wait() propagates the cancellation instead of returning."""
    event = AsyncEvent()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await event.wait(timeout=30)
        pytest.fail("wait() returned under a cancelled scope")  # pragma: no cover
    assert scope.cancelled_caught


# --- AsyncSemaphore ----------------------------------------------------------------


@pytest.mark.anyio
async def test_async_semaphore_admits_value_tasks_at_once() -> None:
    """AsyncSemaphore(2) lets two tasks in; the third waits until one releases."""
    semaphore = AsyncSemaphore(2)
    inside: list[int] = []
    leave = anyio.Event()

    async def worker(n: int) -> None:
        async with semaphore:
            inside.append(n)
            await leave.wait()

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, n)
        await anyio.wait_all_tasks_blocked()
        assert len(inside) == 2
        leave.set()
    assert sorted(inside) == [0, 1, 2]


@pytest.mark.anyio
async def test_async_semaphore_release_before_acquire_adds_a_slot() -> None:
    """Releasing an unused AsyncSemaphore(0) lets one acquire through."""
    semaphore = AsyncSemaphore(0)
    semaphore.release()
    with anyio.fail_after(5):
        await semaphore.acquire()


# --- async_sleep -------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_sleep_zero_is_a_checkpoint() -> None:
    """async_sleep(0) is a cancellation point: a cancelled scope stops right there."""
    with anyio.CancelScope() as scope:
        scope.cancel()
        await async_sleep(0)
        pytest.fail("async_sleep(0) did not checkpoint")  # pragma: no cover
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_async_sleep_waits_and_can_be_cancelled() -> None:
    """async_sleep really waits: a long sleep is cut short only by a deadline."""
    start = anyio.current_time()
    with anyio.move_on_after(0.02) as scope:
        await async_sleep(30)
    assert scope.cancelled_caught
    assert anyio.current_time() - start < 10


# --- async_shielded ----------------------------------------------------------------


@pytest.mark.anyio
async def test_async_shielded_returns_result_and_passes_arguments() -> None:
    """async_shielded forwards positional and keyword arguments and returns fn's result."""

    async def add(a: int, b: int, *, scale: int) -> int:
        await async_sleep(0)
        return (a + b) * scale

    assert await async_shielded(add, 1, 2, scale=10) == 30


@pytest.mark.anyio
async def test_async_shielded_finishes_cleanup_when_already_cancelled() -> None:
    """Under a cancelled scope the cleanup still runs to the end, then the cancellation wins."""
    steps: list[str] = []

    async def cleanup() -> None:
        steps.append("start")
        await async_sleep(0)  # a checkpoint that would raise if not shielded
        steps.append("end")

    with anyio.CancelScope() as scope:
        scope.cancel()
        await async_shielded(cleanup)
        steps.append("after")  # must be skipped: the cancellation is re-raised
    assert steps == ["start", "end"]
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_async_shielded_survives_cancellation_mid_cleanup() -> None:
    """Cancelling the caller while fn is blocked lets fn finish, then re-raises."""
    steps: list[str] = []
    started = anyio.Event()
    release = anyio.Event()

    async def cleanup() -> str:
        started.set()
        await release.wait()
        steps.append("cleanup done")
        return "result"

    async def caller(scope: anyio.CancelScope) -> None:
        with scope:
            await async_shielded(cleanup)
            steps.append("after")

    scope = anyio.CancelScope()
    async with anyio.create_task_group() as tg:
        tg.start_soon(caller, scope)
        await started.wait()
        # The cancellation reaches the caller while cleanup is blocked on ``release``.
        # (No wait_all_tasks_blocked: anyio re-delivers the cancel on asyncio every loop
        # iteration until the caller finishes, so the tasks never all look blocked.)
        scope.cancel()
        await anyio.lowlevel.checkpoint()
        assert steps == []
        release.set()
    assert steps == ["cleanup done"]
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_async_shielded_exception_propagates() -> None:
    """An exception raised by fn reaches the caller unchanged."""

    async def broken() -> None:
        await async_sleep(0)
        raise ValueError("cleanup failed")

    with pytest.raises(ValueError, match="cleanup failed"):
        await async_shielded(broken)


@pytest.mark.anyio
async def test_async_shielded_exception_wins_over_cancellation() -> None:
    """When the caller was cancelled and fn fails, fn's exception is what propagates."""

    async def broken() -> None:
        await async_sleep(0)
        raise ValueError("cleanup failed")

    async def cancelled_caller() -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await async_shielded(broken)

    with pytest.raises(ValueError, match="cleanup failed"):
        await cancelled_caller()


@pytest.mark.anyio
async def test_async_shielded_not_cancelled_returns_normally() -> None:
    """Without a cancellation the code after async_shielded runs as usual."""
    steps: list[str] = []

    async def cleanup() -> None:
        await async_sleep(0)
        steps.append("cleanup")

    with anyio.CancelScope() as scope:
        await async_shielded(cleanup)
        steps.append("after")
    assert steps == ["cleanup", "after"]
    assert not scope.cancelled_caught


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_async_shielded_survives_raw_task_cancel(anyio_backend: str) -> None:
    """asyncio Task.cancel(), even repeated, waits for fn, then raises CancelledError."""
    started = asyncio.Event()
    release = asyncio.Event()
    steps: list[str] = []

    async def cleanup() -> None:
        started.set()
        await release.wait()
        steps.append("cleanup done")

    async def caller() -> None:
        await async_shielded(cleanup)
        steps.append("after")  # pragma: no cover

    task = asyncio.create_task(caller())
    await started.wait()
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["cleanup done"]


# --- blocking twins ----------------------------------------------------------------


def test_lock_blocks_another_thread() -> None:
    """A thread blocks on a held Lock and gets it once the holder releases."""
    lock = Lock()
    trying = threading.Event()
    acquired = threading.Event()

    def contender() -> None:
        trying.set()
        with lock:
            acquired.set()

    lock.acquire()
    assert lock.locked()
    thread = threading.Thread(target=contender)
    thread.start()
    assert trying.wait(5)
    assert not acquired.wait(0.05)
    lock.release()
    thread.join(5)
    assert acquired.is_set()
    assert not lock.locked()


def test_lock_context_manager_releases_on_error() -> None:
    """Leaving ``with lock`` through an exception releases the lock."""
    lock = Lock()

    def fail_inside() -> None:
        with lock:
            assert lock.locked()
            raise KeyError("boom")

    with pytest.raises(KeyError):
        fail_inside()
    assert not lock.locked()


def test_event_wait_times_out_with_false() -> None:
    """Event.wait(timeout) returns False when nobody sets it."""
    event = Event()
    assert event.wait(timeout=0.01) is False
    assert not event.is_set()


def test_event_set_before_wait() -> None:
    """An event set before the wait returns True at once."""
    event = Event()
    event.set()
    assert event.is_set()
    assert event.wait() is True
    assert event.wait(timeout=0) is True


def test_event_set_by_another_thread() -> None:
    """A thread setting the event wakes a waiter, which gets True."""
    event = Event()
    thread = threading.Thread(target=event.set)
    thread.start()
    assert event.wait(timeout=30) is True
    thread.join(5)


def test_semaphore_limits_threads() -> None:
    """Semaphore(1) keeps a second thread out until the first releases."""
    semaphore = Semaphore(1)
    entered = threading.Event()

    def worker() -> None:
        with semaphore:
            entered.set()

    semaphore.acquire()
    thread = threading.Thread(target=worker)
    thread.start()
    assert not entered.wait(0.05)
    semaphore.release()
    thread.join(5)
    assert entered.is_set()


def test_sleep_blocks_for_the_duration() -> None:
    """sleep(seconds) blocks at least that long."""
    start = time.monotonic()
    sleep(0.02)
    assert time.monotonic() - start >= 0.015


def test_shielded_calls_fn_with_arguments() -> None:
    """shielded forwards arguments and returns fn's result; exceptions propagate."""
    assert shielded(divmod, 7, 2) == (3, 1)
    assert shielded(int, "ff", base=16) == 255
    with pytest.raises(ZeroDivisionError):
        shielded(divmod, 1, 0)


def test_base_never_imports_anyio_or_trio() -> None:
    """No module of netbackend_base has an import statement for anyio or trio."""
    import ast
    import inspect

    from netbackend_base import _concurrency, _discovery, _exceptions, _interfaces

    for module in (netbackend_base, _concurrency, _discovery, _exceptions, _interfaces):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.partition(".")[0])
        assert "sniffio" in imported or module is not _concurrency
        assert not imported & {"anyio", "trio"}, module.__name__
