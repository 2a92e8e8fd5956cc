"""The lock around sections of code that never await.

Connection and pool state is changed in short synchronous sections: the pool's
bookkeeping (:mod:`._pool_logic`), an HTTP/2 connection's calls into h2. On an event
loop only one task runs at a time and tasks switch only at an ``await``, so such a
section needs no lock at all: :class:`AsyncThreadLock` does nothing. The generated sync
code runs the same sections on many threads, and unasync turns the name into
:class:`ThreadLock`, a real :class:`threading.Lock`.

A section under either lock must never await or block on I/O.
"""

from __future__ import annotations

import threading

__all__ = ("AsyncThreadLock", "ThreadLock")


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
