"""The lock around sections that never await (httptransport._locks)."""

from __future__ import annotations

import threading

from httptransport._locks import AsyncThreadLock, ThreadLock


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
