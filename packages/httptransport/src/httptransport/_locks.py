"""The lock around sections of code that never await, and how queued requests wait.

Connection and pool state is changed in short synchronous sections: the pool's
bookkeeping (:mod:`._pool_logic`), an HTTP/2 connection's calls into h2. On an event
loop only one task runs at a time and tasks switch only at an ``await``, so such a
section needs no lock at all; :class:`AsyncThreadLock` is still a
:class:`threading.Lock`, only because taking an uncontended one costs less than calling
a do-nothing Python context manager. The generated sync code runs the same sections on
many threads, and unasync turns the name into :class:`ThreadLock`, where the same lock
does exclude.

A section under either lock must never await or block on I/O.

A request that finds no connection free waits for the pool to hand it one:
:class:`AsyncPoolWaiters` (and its blocking twin :class:`PoolWaiters`) make the thing it
waits on, wake it, and bound the wait by the ``pool`` timeout. On asyncio the waiter is
a plain future (woken with one ``set_result``, no event on top), and the timeouts of all
the queued requests of one pool share a single timer: it is armed for the earliest
deadline, and when it fires it expires whoever is due and re-arms itself for the next.
A request that waits costs a dict entry, not a timer of its own, and one that does not
wait costs nothing. Under trio the same holds: a waiter parks its task with
``trio.lowlevel.wait_task_rescheduled`` and is woken with one ``reschedule`` (no event),
and the pool's timeouts share one timer, a system task spawned on the first timed wait of
a run, that sleeps until the earliest deadline (moved earlier when a nearer one comes),
expires whoever is due, and ends when it wakes to find no timed waiter left.
httptransport never imports trio (its import contract forbids it): it takes the module
from ``sys.modules``, where the running trio put it.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import typing

from netbackend_base import Event, current_async_library

__all__ = ("AsyncPoolWaiters", "AsyncThreadLock", "PoolWaiters", "ThreadLock")

_get_running_loop = asyncio.events._get_running_loop


# A lock for sections that never await, in async code. Nothing needs excluding there (one
# task runs at a time), but an uncontended :class:`threading.Lock` is the cheapest
# context manager there is: its C ``__enter__``/``__exit__`` cost less than the two
# Python calls of a do-nothing class. (A section never awaits, so it never holds the
# lock across a task switch: no other task can find it taken.)
AsyncThreadLock = threading.Lock


# A lock for sections that never block, in sync code: a :class:`threading.Lock` itself
# (its C ``__enter__``/``__exit__`` cost no Python call, where a wrapper class would add
# two to every section).
ThreadLock = threading.Lock


class _TrioWaiter:
    """A waiter under trio: the future-like half (``done``/``set_result``) the pool and
    the timer use, and the task parked on it (None while it is not parked)."""

    __slots__ = ("_result", "_task")

    def __init__(self) -> None:
        self._result: bool | None = None
        self._task: typing.Any = None

    def done(self) -> bool:
        return self._result is not None

    def set_result(self, result: bool) -> None:
        """Settle the waiter (once: callers check :meth:`done`) and wake its task."""
        self._result = result
        task = self._task
        if task is not None:
            # (what the park returns, for a wait without a timeout, which returns it)
            self._task = None
            _trio_lowlevel.reschedule(task, _outcome_value(result))

    def _abort(self, raise_cancel: object) -> typing.Any:
        # The parked task is cancelled: it is no longer parked, and a later wake (or
        # the timer) finds the waiter settled and leaves it alone.
        self._task = None
        self._result = False
        return _trio_lowlevel.Abort.SUCCEEDED


# trio and trio.lowlevel, taken from sys.modules the first time a pool waits under trio
# (httptransport never imports trio: it is there because trio is what is running).
_trio: typing.Any = None
_trio_lowlevel: typing.Any = None
_outcome_value: typing.Any = None  # outcome.Value, which trio's reschedule() takes


def _load_trio() -> None:
    global _trio, _trio_lowlevel, _outcome_value
    trio = sys.modules["trio"]
    _outcome_value = sys.modules["outcome"].Value
    _trio_lowlevel = trio.lowlevel
    _trio = trio


def _expire_due(deadlines: dict[typing.Any, float], now: float) -> float | None:
    """Time out (settle with ``False``) and forget every waiter due by ``now``; return
    the nearest deadline left, if any. Shared by the asyncio and the trio timer."""
    nearest: float | None = None
    for waiter, deadline in list(deadlines.items()):
        if deadline <= now:
            del deadlines[waiter]
            if not waiter.done():
                waiter.set_result(False)
        elif nearest is None or deadline < nearest:
            nearest = deadline
    return nearest


class AsyncPoolWaiters:
    """The waiters of one async pool's queued requests (see the module docstring).

    A waiter is made under the pool's lock (:meth:`create`, no await), woken by whoever
    grants its request (:meth:`wake`, any number of times, also after a timeout), and
    awaited by its request (:meth:`wait`), once.
    """

    __slots__ = (
        "_deadlines",
        "_loop",
        "_timer",
        "_timer_at",
        "_trio_at",
        "_trio_deadlines",
        "_trio_run",
        "_trio_scope",
        "_trio_timer",
    )

    def __init__(self) -> None:
        # The asyncio loop the futures belong to (None until the first wait on asyncio).
        self._loop: asyncio.AbstractEventLoop | None = None
        # Each waiting future with a timeout, and when it runs out (the loop's clock).
        self._deadlines: dict[asyncio.Future[bool], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # Under trio: the run the timer belongs to (its root task), whether the timer
        # task is running, the deadline it sleeps for, and its cancel scope (None
        # until it first sleeps), and each parked waiter with a timeout, with when it
        # runs out (trio's clock).
        self._trio_run: object = None
        self._trio_timer = False
        self._trio_at = 0.0
        self._trio_scope: typing.Any = None
        self._trio_deadlines: dict[_TrioWaiter, float] = {}

    def create(self) -> typing.Any:
        """A new waiter for the running task: a future on asyncio, else a trio waiter."""
        loop = _get_running_loop()
        if loop is None or (loop is not self._loop and not self._bind(loop)):
            if _trio_lowlevel is None:
                if current_async_library() != "trio":  # pragma: no cover - asyncio binds
                    raise RuntimeError("no running asyncio or trio loop")
                _load_trio()
            return _TrioWaiter()
        return loop.create_future()

    def queue(self, ticket: typing.Any, request: object) -> None:
        """Give a queued request's ``ticket`` its waiter (:meth:`create`). On asyncio,
        also note the ``request`` on it: whoever releases a connection to it may then
        send it ahead (see the pool's ``_send_ahead``), which needs a future."""
        loop = _get_running_loop()
        if loop is not None and (loop is self._loop or self._bind(loop)):
            ticket.waiter = loop.create_future()
            ticket.request = request
        elif _trio_lowlevel is not None:  # (what create() answers then, without asking again)
            ticket.waiter = _TrioWaiter()
        else:
            ticket.waiter = self.create()

    def retime(self, future: asyncio.Future[bool], timeout: float | None) -> None:
        """The request waiting on ``future`` was sent ahead: from now on the wait is for
        its response, bounded by its read ``timeout`` (``None``: no bound), not its pool
        timeout. Only for a wait that has a deadline exactly when ``timeout`` is set."""
        deadlines = self._deadlines
        if timeout is None:
            deadlines.pop(future, None)
            return
        loop: asyncio.AbstractEventLoop = self._loop  # type: ignore[assignment]
        deadline = loop.time() + timeout
        deadlines[future] = deadline
        if self._timer is None or deadline < self._timer_at:
            self._arm(loop, deadline)

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
        if not waiter.done():
            waiter.set_result(True)

    def wait(self, waiter: typing.Any, timeout: float | None) -> typing.Awaitable[bool]:
        """Wait until woken; ``False`` if ``timeout`` seconds passed first.

        A waiter is awaited once, at once (await what this returns straight away). A
        cancelled wait raises, and leaves the waiter settled (a later wake does
        nothing) with no deadline behind.

        Not a coroutine function: without a timeout it returns the future itself (on
        asyncio) or trio's park (the task is recorded here), so a queued request's
        wait and wake-up go through no coroutine of ours.
        """
        if type(waiter) is _TrioWaiter:
            if timeout is None and waiter._result is None:
                lowlevel = _trio_lowlevel
                waiter._task = lowlevel.current_task()
                # (no typing.cast(): a call at run time, on every queued request)
                return lowlevel.wait_task_rescheduled(waiter._abort)  # type: ignore[no-any-return]
            return self._trio_wait(waiter, timeout)
        if timeout is None:
            return waiter  # type: ignore[no-any-return]
        return self._asyncio_wait(waiter, timeout)

    async def _trio_wait(self, waiter: _TrioWaiter, timeout: float | None) -> bool:
        if waiter._result is None:  # (else woken before it waited)
            lowlevel = _trio_lowlevel
            self._trio_add(waiter, typing.cast(float, timeout))
            waiter._task = lowlevel.current_task()
            try:
                await lowlevel.wait_task_rescheduled(waiter._abort)
            finally:
                self._trio_deadlines.pop(waiter, None)
        return typing.cast(bool, waiter._result)

    async def _asyncio_wait(self, future: asyncio.Future[bool], timeout: float) -> bool:
        loop: asyncio.AbstractEventLoop = self._loop  # type: ignore[assignment]
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
        nearest = _expire_due(self._deadlines, max(loop.time(), self._timer_at))
        if nearest is not None:
            self._arm(loop, nearest)

    # -- trio --------------------------------------------------------------------

    def _trio_add(self, waiter: _TrioWaiter, timeout: float) -> None:
        """Give ``waiter`` its deadline, and have the timer task wake up for it."""
        lowlevel = _trio_lowlevel
        deadline = _trio.current_time() + timeout
        if deadline != deadline:  # NaN: the timer task could not sleep for it
            raise ValueError("the pool timeout must not be NaN")
        run = lowlevel.current_root_task()
        if run is not self._trio_run:
            # A new trio.run: the timer (and anything it knew) went with the old one.
            self._trio_run = run
            self._trio_timer = False
            self._trio_scope = None
            self._trio_deadlines.clear()
        if not self._trio_timer:
            self._trio_at = deadline
            self._trio_scope = None
            lowlevel.spawn_system_task(self._trio_timer_task, name="httptransport pool timer")
            self._trio_timer = True
        elif deadline < self._trio_at:
            self._trio_at = deadline
            scope = self._trio_scope
            if scope is not None:  # (else it has not started yet: it reads _trio_at)
                scope.deadline = deadline
        self._trio_deadlines[waiter] = deadline

    async def _trio_timer_task(self) -> None:
        """The pool's one timer under trio (a system task, so it must never raise): it
        sleeps until the earliest deadline, times out whoever is due, and exits when no
        timed waiter is left. Cancelled with the run, it just ends."""
        trio = _trio
        deadlines = self._trio_deadlines
        while True:
            with trio.CancelScope(deadline=self._trio_at) as scope:
                self._trio_scope = scope
                await trio.sleep_forever()
            nearest = _expire_due(deadlines, max(trio.current_time(), self._trio_at))
            if nearest is None:
                self._trio_timer = False
                self._trio_scope = None
                return
            self._trio_at = nearest


class PoolWaiters:
    """The blocking twin of :class:`AsyncPoolWaiters`: each waiter is an event."""

    __slots__ = ()

    def create(self) -> Event:
        """A new waiter."""
        return Event()

    @staticmethod
    def queue(ticket: typing.Any, request: object) -> None:
        """Give a queued request's ``ticket`` its waiter (nothing is sent ahead here)."""
        ticket.waiter = Event()

    @staticmethod
    def retime(waiter: Event, timeout: float | None) -> None:  # pragma: no cover - see queue()
        """Never called: nothing is sent ahead in sync code."""

    @staticmethod
    def wake(waiter: Event) -> None:
        """Wake ``waiter`` (no-op if already woken)."""
        waiter.set()

    def wait(self, waiter: Event, timeout: float | None) -> bool:
        """Wait until woken; ``False`` if ``timeout`` seconds passed first."""
        return waiter.wait(timeout)
