"""The lock around sections of code that never await, and how queued requests wait.

Connection and pool state is changed in short synchronous sections: the pool's
bookkeeping (:mod:`._pool_logic`), an HTTP/2 connection's calls into h2. On an event
loop only one task runs at a time and tasks switch only at an ``await``, so such a
section needs no lock at all: :class:`AsyncThreadLock` does nothing. The generated sync
code runs the same sections on many threads, and unasync turns the name into
:class:`ThreadLock`, a real :class:`threading.Lock`.

A section under either lock must never await or block on I/O.

A request that finds no connection free waits for the pool to hand it one:
:class:`AsyncPoolWaiters` (and its blocking twin :class:`PoolWaiters`) make the thing it
waits on, wake it, and bound the wait by the ``pool`` timeout. On asyncio the waiter is
a plain future (woken with one ``set_result``, no event on top), and the timeouts of all
the queued requests of one pool share a single timer: it is armed for the earliest
deadline, and when it fires it expires whoever is due and re-arms itself for the next.
A request that waits costs a dict entry, not a timer of its own, and one that does not
wait costs nothing. Under trio each waiter is an event with a cancel scope.
"""

from __future__ import annotations

import asyncio
import threading
import typing

from netbackend_base import AsyncEvent, Event, current_async_library

__all__ = ("AsyncPoolWaiters", "AsyncThreadLock", "PoolWaiters", "ThreadLock")

_get_running_loop = asyncio.events._get_running_loop


class AsyncThreadLock:
    """A lock for sections that never await, in async code: nothing to do."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


class ThreadLock:
    """A lock for sections that never block, in sync code: a :class:`threading.Lock`."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *args: object) -> None:
        self._lock.release()


class AsyncPoolWaiters:
    """The waiters of one async pool's queued requests (see the module docstring).

    A waiter is made under the pool's lock (:meth:`create`, no await), woken by whoever
    grants its request (:meth:`wake`, any number of times, also after a timeout), and
    awaited by its request (:meth:`wait`).
    """

    __slots__ = ("_deadlines", "_loop", "_timer", "_timer_at")

    def __init__(self) -> None:
        # The asyncio loop the futures belong to (None until the first wait on asyncio).
        self._loop: asyncio.AbstractEventLoop | None = None
        # Each waiting future with a timeout, and when it runs out (the loop's clock).
        self._deadlines: dict[asyncio.Future[bool], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def create(self) -> typing.Any:
        """A new waiter for the running task: a future on asyncio, else an event."""
        loop = _get_running_loop()
        if loop is None or (loop is not self._loop and not self._bind(loop)):
            return AsyncEvent()
        return loop.create_future()

    def _bind(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Adopt ``loop`` (a pool may outlive one ``asyncio.run``); False if the running
        library is not asyncio after all (trio on top of asyncio's thread)."""
        if current_async_library() != "asyncio":
            return False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadlines.clear()
        self._loop = loop
        return True

    @staticmethod
    def wake(waiter: typing.Any) -> None:
        """Wake ``waiter``: its request was granted something (no-op if already woken)."""
        if isinstance(waiter, AsyncEvent):
            waiter.set()
        elif not waiter.done():
            waiter.set_result(True)

    async def wait(self, waiter: typing.Any, timeout: float | None) -> bool:
        """Wait until woken; ``False`` if ``timeout`` seconds passed first."""
        if isinstance(waiter, AsyncEvent):
            return await waiter.wait(timeout)
        future = typing.cast("asyncio.Future[bool]", waiter)
        if timeout is None:
            return await future
        loop = typing.cast(asyncio.AbstractEventLoop, self._loop)
        deadline = loop.time() + timeout
        deadlines = self._deadlines
        deadlines[future] = deadline
        if self._timer is None or deadline < self._timer_at:
            self._arm(loop, deadline)
        try:
            return await future
        finally:
            deadlines.pop(future, None)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(when, self._expire)

    def _expire(self) -> None:
        """The timer fired: time out every waiter that is due, re-arm for the next."""
        self._timer = None
        loop = self._loop
        if loop is None:  # pragma: no cover - a timer is only armed with a loop
            return
        # The loop runs a timer a little early (within its clock resolution): whatever
        # was due by the time it was armed for is due now.
        now = max(loop.time(), self._timer_at)
        deadlines = self._deadlines
        nearest: float | None = None
        for future, deadline in list(deadlines.items()):
            if deadline <= now:
                del deadlines[future]
                if not future.done():
                    future.set_result(False)
            elif nearest is None or deadline < nearest:
                nearest = deadline
        if nearest is not None:
            self._arm(loop, nearest)


class PoolWaiters:
    """The blocking twin of :class:`AsyncPoolWaiters`: each waiter is an event."""

    __slots__ = ()

    def create(self) -> Event:
        """A new waiter."""
        return Event()

    @staticmethod
    def wake(waiter: Event) -> None:
        """Wake ``waiter`` (no-op if already woken)."""
        waiter.set()

    def wait(self, waiter: Event, timeout: float | None) -> bool:
        """Wait until woken; ``False`` if ``timeout`` seconds passed first."""
        return waiter.wait(timeout)
