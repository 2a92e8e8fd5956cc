"""Synchronisation primitives that work under asyncio and trio alike.

Code above the backend interface (an HTTP connection pool, say) needs a lock, an
event with a timeout, a semaphore, a sleep and a way to finish cleanup while the
caller is being cancelled, and it must not import anyio or trio to get them. These
wrappers find the running library through ``sniffio`` the first time they are used,
bind to its native primitive, and from then on delegate to it directly: one attribute
lookup per call on the hot path, no per-call detection.

trio is never imported here: when trio is the running library it is already in
``sys.modules``, and that module object is used.

The blocking twins (``Lock``, ``Event``, ``Semaphore``, ``sleep``, ``shielded``) have
the same shape, so code generated from async sources needs only name substitutions.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import typing

import sniffio

__all__ = (
    "AsyncEvent",
    "AsyncLock",
    "AsyncSemaphore",
    "Event",
    "Lock",
    "Semaphore",
    "async_shielded",
    "async_sleep",
    "current_async_library",
    "shielded",
    "sleep",
)

T = typing.TypeVar("T")
P = typing.ParamSpec("P")

_SUPPORTED = ("asyncio", "trio")
_get_running_loop = asyncio.events._get_running_loop


def current_async_library() -> str:
    """Name the running async library: ``"asyncio"`` or ``"trio"``.

    anyio reports the library it runs on, so anyio on trio is ``"trio"``.

    Raises:
        RuntimeError: Called outside a running event loop, or under another library.
    """
    # sniffio's own order, with a cheaper asyncio test: trio (and anything else that
    # says so) names itself in sniffio's thread-local or context variable; otherwise a
    # running asyncio loop in this thread means asyncio. This runs on every wait of a
    # pool's waiters, and sniffio's asyncio test (``asyncio.current_task()``) costs more.
    name = sniffio.thread_local.name or sniffio.current_async_library_cvar.get()
    if name is None:
        if _get_running_loop() is not None:
            return "asyncio"
        try:
            name = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            raise RuntimeError(
                "no running event loop: call this from asyncio or trio code"
            ) from None
    if name not in _SUPPORTED:
        raise RuntimeError(f"unsupported async library {name!r}: use asyncio or trio")
    return name


def _trio() -> typing.Any:
    return sys.modules["trio"]


class AsyncLock:
    """A non-reentrant lock for tasks; bound to the running library on first use."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock: typing.Any = None

    def _bind(self) -> typing.Any:
        if current_async_library() == "trio":
            self._lock = _trio().Lock()
        else:
            self._lock = asyncio.Lock()
        return self._lock

    async def acquire(self) -> None:
        await (self._lock or self._bind()).acquire()

    def release(self) -> None:
        if self._lock is None:
            # Same error as asyncio's and trio's locks, not an AttributeError on None.
            raise RuntimeError("release of an AsyncLock that was never acquired")
        self._lock.release()

    def locked(self) -> bool:
        return self._lock is not None and bool(self._lock.locked())

    async def __aenter__(self) -> None:
        await (self._lock or self._bind()).acquire()

    async def __aexit__(self, *args: object) -> None:
        self._lock.release()


class AsyncEvent:
    """A one-shot flag that tasks wait on; ``set()`` may come before the first ``wait()``."""

    __slots__ = ("_event", "_flag")

    def __init__(self) -> None:
        self._event: typing.Any = None
        self._flag = False

    def set(self) -> None:
        self._flag = True
        if self._event is not None:
            self._event.set()

    def is_set(self) -> bool:
        return self._flag

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until set; return ``False`` if ``timeout`` seconds passed first."""
        if self._flag:
            return True
        library = current_async_library()
        event = self._event
        if event is None:
            event = self._event = _trio().Event() if library == "trio" else asyncio.Event()
        if timeout is None:
            await event.wait()
            return True
        if library == "trio":
            with _trio().move_on_after(timeout):
                await event.wait()
            return self._flag
        try:
            await _asyncio_wait_for(event.wait(), timeout)
        except TimeoutError:
            return self._flag
        return True


if sys.version_info >= (3, 11):

    async def _asyncio_wait_for(
        awaitable: typing.Coroutine[typing.Any, typing.Any, T], timeout: float
    ) -> T:
        async with asyncio.timeout(timeout):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def _asyncio_wait_for(
        awaitable: typing.Coroutine[typing.Any, typing.Any, T], timeout: float
    ) -> T:
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError() from None


class AsyncSemaphore:
    """A counting semaphore for tasks; bound to the running library on first use."""

    __slots__ = ("_initial", "_semaphore")

    def __init__(self, value: int) -> None:
        self._initial = value
        self._semaphore: typing.Any = None

    def _bind(self) -> typing.Any:
        if current_async_library() == "trio":
            self._semaphore = _trio().Semaphore(self._initial)
        else:
            self._semaphore = asyncio.Semaphore(self._initial)
        return self._semaphore

    async def acquire(self) -> None:
        await (self._semaphore or self._bind()).acquire()

    def release(self) -> None:
        (self._semaphore or self._bind()).release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *args: object) -> None:
        self.release()


async def async_sleep(seconds: float) -> None:
    """Sleep under whichever library is running."""
    if current_async_library() == "trio":
        await _trio().sleep(seconds)
    else:
        await asyncio.sleep(seconds)


async def async_shielded(
    fn: typing.Callable[P, typing.Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run ``await fn(*args, **kwargs)`` to completion even if the caller is cancelled.

    Meant for cleanup (closing a connection, returning a pool slot) that must not be
    cut short. If the caller was cancelled meanwhile, the cancellation is re-raised once
    ``fn`` has finished; an exception from ``fn`` wins over it.

    Under trio this is a shielded cancel scope. Under asyncio ``fn`` runs in its own
    task and the caller keeps waiting for it through any number of ``cancel()`` calls.
    When the caller runs under anyio (already imported by the caller, so it is taken
    from ``sys.modules``, never imported here), the wait also sits in a shielded anyio
    cancel scope: anyio re-sends its cancellation on every loop iteration, and without
    the shield the wait would spin at full CPU until ``fn`` finished.
    """
    on_trio = current_async_library() == "trio"
    # trio, or anyio when it drives this asyncio task: both have shielded cancel scopes.
    scopes = _trio() if on_trio else sys.modules.get("anyio")
    if scopes is None:
        return await _asyncio_shielded(fn, *args, **kwargs)
    with scopes.CancelScope(shield=True):
        if on_trio:
            result = await fn(*args, **kwargs)
        else:
            result = await _asyncio_shielded(fn, *args, **kwargs)
    # Leaving a shielded scope does not deliver a pending cancellation by itself: it
    # would wait for the caller's next checkpoint, and code the caller meant to skip
    # would run first.
    await scopes.lowlevel.checkpoint_if_cancelled()
    return result


async def _asyncio_shielded(
    fn: typing.Callable[P, typing.Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    async def call() -> T:
        return await fn(*args, **kwargs)

    task = asyncio.ensure_future(call())
    cancellation: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.cancelled():
                # The inner task itself was cancelled (by someone else): propagate.
                raise
            # The caller was cancelled. fn may have finished in the same loop iteration,
            # so its outcome is read from the task below rather than dropped here. The
            # first cancellation is kept as it is: anyio recognises its own by the message.
            cancellation = cancellation or exc
    result = task.result()  # fn's own exception wins over the caller's cancellation
    if cancellation is not None:
        raise cancellation
    return result


class Lock:
    """The blocking twin of :class:`AsyncLock` (a ``threading.Lock``)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self) -> None:
        self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *args: object) -> None:
        self._lock.release()


class Event:
    """The blocking twin of :class:`AsyncEvent` (a ``threading.Event``)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until set; return ``False`` if ``timeout`` seconds passed first."""
        return self._event.wait(timeout)


class Semaphore:
    """The blocking twin of :class:`AsyncSemaphore` (a ``threading.Semaphore``)."""

    __slots__ = ("_semaphore",)

    def __init__(self, value: int) -> None:
        self._semaphore = threading.Semaphore(value)

    def acquire(self) -> None:
        self._semaphore.acquire()

    def release(self) -> None:
        self._semaphore.release()

    def __enter__(self) -> None:
        self._semaphore.acquire()

    def __exit__(self, *args: object) -> None:
        self._semaphore.release()


def sleep(seconds: float) -> None:
    """Block for ``seconds`` (the twin of :func:`async_sleep`)."""
    time.sleep(seconds)


def shielded(fn: typing.Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn``: blocking code is never cancelled (the twin of :func:`async_shielded`)."""
    return fn(*args, **kwargs)
