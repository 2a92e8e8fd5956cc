"""What each call on a fault-injecting connection does, decided without any I/O.

Shared as is by :mod:`netbackend_mock._faulty_sync` and
:mod:`netbackend_mock._faulty_async`, whose classes only carry the decisions out.

The model
---------
One :class:`ConnectionLogic` per connection attempt holds its number, its
:class:`~netbackend_mock.ConnectionFaults` and its state: bytes read and written so
far, whether it was reset, whether the stream was closed. Before each call, the I/O
shell asks it for a :class:`Step`, which says, in the order the shell carries it out:

1. ``delay``: seconds to sleep first, through the wrapped backend's ``sleep``;
2. what to pass to the inner stream or backend: for a read, one inner read of at most
   ``size`` bytes; for a write, the slices ``pieces`` of the buffer, one inner write
   each; for a connect or ``start_tls``, the call itself; each with ``timeout``, what
   is left of the caller's timeout after the delay;
3. ``fault``: if set, the call fails instead of (reads, connects) or after (writes)
   step 2. For a stall the shell first sleeps through :meth:`ConnectionLogic.stall_pauses`,
   stopping early if the stream gets closed. Then it raises what
   :meth:`ConnectionLogic.failure` returns, which also records the event and marks a
   reset.

The shell reports the bytes that went through (:meth:`~ConnectionLogic.did_read`,
:meth:`~ConnectionLogic.did_write`), so the next step knows where the connection stands.

Rules the steps follow:

* A delay that reaches the call's timeout becomes a delay of exactly the timeout and a
  ``"timeout"`` fault; the inner call is never made.
* A read never asks the inner stream for bytes past a reset or stall offset, so the
  fault fires at exactly that offset; a write passes on the bytes before the offset,
  then fails.
* After a reset every read and non-empty write fails at once, without delay.
* Empty writes (a no-op by contract) and ``max_bytes < 1`` reads (a ``ValueError``
  from the inner stream) pass through untouched.

Every method runs to completion; a connection is used by one task or thread at a time,
except :meth:`~ConnectionLogic.close`, which may come from another and only sets a flag.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator

from netbackend_base import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

from ._fault_plan import Call, ConnectionFaults, FaultEvent, FaultKind, Faults

__all__ = (
    "BackendCore",
    "ConnectionLogic",
    "StallLimitExceeded",
    "Step",
)

# How often a stall with no timeout checks whether the stream was closed: from 1 ms,
# doubling up to 100 ms, so a close is noticed quickly without many sleeps.
_FIRST_POLL = 0.001
_MAX_POLL = 0.1

_TIMEOUTS: dict[Call, type[Exception]] = {
    "connect": ConnectTimeout,
    "start_tls": ConnectTimeout,
    "read": ReadTimeout,
    "write": WriteTimeout,
}
_ERRORS: dict[Call, type[Exception]] = {
    "connect": ConnectError,
    "start_tls": ConnectError,
    "read": ReadError,
    "write": WriteError,
}


class StallLimitExceeded(AssertionError):
    """A stalled read or write had no timeout, and nothing closed its stream in time.

    The code under test would have waited for ever. This is an ``AssertionError`` on
    purpose, not a network error: code that handles network errors lets it through,
    and the test fails, saying where the unbounded wait was.
    """


@dataclasses.dataclass(frozen=True)
class Step:
    """What one call does; see the module docstring for the order.

    Attributes:
        call: The call this step is for.
        delay: Seconds to sleep first.
        timeout: The timeout for the inner call(s) and for a stall.
        size: For reads: ``max_bytes`` of the inner read.
        pieces: For writes: ``(start, end)`` slices of the buffer to write, in order.
        fault: Fail with this fault (after the pieces, for writes); ``None`` to succeed.
    """

    call: Call
    delay: float = 0.0
    timeout: float | None = None
    size: int = 0
    pieces: tuple[tuple[int, int], ...] = ()
    fault: FaultKind | None = None


def _first_offset(*offsets: tuple[int | None, FaultKind]) -> tuple[int | None, FaultKind | None]:
    """The earliest configured offset and its kind; a reset wins a tie."""
    found: tuple[int | None, FaultKind | None] = (None, None)
    for offset, kind in offsets:
        if offset is not None and (found[0] is None or offset < found[0]):
            found = (offset, kind)
    return found


class ConnectionLogic:
    """The faults of one connection, turned into a :class:`Step` per call.

    Args:
        number: The connection's number (from 1), for messages and events.
        faults: What to inject.
        stall_limit: How long a stall with no timeout may last (see
            :attr:`Faults.stall_limit`).
        on_event: Called with each :class:`FaultEvent` as it is recorded.
    """

    def __init__(
        self,
        number: int,
        faults: ConnectionFaults,
        *,
        stall_limit: float = 10.0,
        on_event: Callable[[FaultEvent], None] | None = None,
    ) -> None:
        self.number = number
        self.faults = faults
        self.stall_limit = stall_limit
        self._on_event = on_event
        self.events: list[FaultEvent] = []
        """Every fault this connection injected, in order."""
        self.bytes_read = 0
        self.bytes_written = 0
        self.reset = False
        self.closed = False

    # -- decisions ------------------------------------------------------------------

    @staticmethod
    def _delayed(delay: float, timeout: float | None) -> tuple[float, float | None, bool]:
        """``(delay, timeout left, timed out)`` for a latency before a call."""
        if delay <= 0:
            return 0.0, timeout, False
        if timeout is not None and delay >= timeout:
            return timeout, timeout, True
        return delay, None if timeout is None else timeout - delay, False

    def plan_connect(self, timeout: float | None) -> Step:
        """The step of ``connect_tcp``/``connect_unix_socket``."""
        delay, left, timed_out = self._delayed(self.faults.connect_latency, timeout)
        if timed_out:
            return Step("connect", delay, left, fault="timeout")
        if self.faults.refuse:
            return Step("connect", delay, left, fault="refuse")
        return Step("connect", delay, left)

    def plan_tls(self, timeout: float | None) -> Step:
        """The step of ``start_tls``."""
        if self.faults.fail_tls:
            return Step("start_tls", timeout=timeout, fault="tls_failure")
        return Step("start_tls", timeout=timeout)

    def plan_read(self, max_bytes: int, timeout: float | None) -> Step:
        """The step of ``read(max_bytes, timeout)``."""
        if max_bytes < 1:
            return Step("read", timeout=timeout, size=max_bytes)
        if self.reset:
            return Step("read", fault="reset")
        faults = self.faults
        delay, left, timed_out = self._delayed(faults.read_latency, timeout)
        if timed_out:
            return Step("read", delay, left, fault="timeout")
        offset, kind = _first_offset(
            (faults.reset_after_read, "reset"), (faults.stall_after_read, "stall")
        )
        if offset is not None and self.bytes_read >= offset:
            return Step("read", delay, left, fault=kind)
        size = max_bytes
        if faults.max_read_bytes is not None:
            size = min(size, faults.max_read_bytes)
        if offset is not None:
            size = min(size, offset - self.bytes_read)
        return Step("read", delay, left, size=size)

    def plan_write(self, length: int, timeout: float | None) -> Step:
        """The step of writing a buffer of ``length`` bytes."""
        if length == 0:
            return Step("write", timeout=timeout, pieces=((0, 0),))
        if self.reset:
            return Step("write", fault="reset")
        faults = self.faults
        delay, left, timed_out = self._delayed(faults.write_latency, timeout)
        if timed_out:
            return Step("write", delay, left, fault="timeout")
        offset, kind = _first_offset(
            (faults.reset_after_write, "reset"), (faults.stall_after_write, "stall")
        )
        limit, fault = length, None
        if offset is not None and self.bytes_written + length > offset:
            limit, fault = max(offset - self.bytes_written, 0), kind
        piece = faults.max_write_bytes or limit or 1
        pieces = tuple((start, min(start + piece, limit)) for start in range(0, limit, piece))
        return Step("write", delay, left, pieces=pieces, fault=fault)

    def stall_pauses(self, timeout: float | None) -> Iterator[float]:
        """The sleeps a stall is made of: the whole timeout at once, or with none, short
        ones adding up to :attr:`stall_limit` (the shell checks for a close in between)."""
        if timeout is not None:
            if timeout > 0:
                yield timeout
            return
        waited, pause = 0.0, _FIRST_POLL
        while waited < self.stall_limit:
            step = min(pause, self.stall_limit - waited)
            yield step
            waited += step
            pause = min(pause * 2, _MAX_POLL)

    # -- outcomes -------------------------------------------------------------------

    def did_read(self, count: int) -> None:
        self.bytes_read += count

    def did_write(self, count: int) -> None:
        self.bytes_written += count

    def close(self) -> None:
        self.closed = True

    def failure(self, step: Step) -> Exception:
        """Record the event of a failed ``step`` and return the exception to raise."""
        assert step.fault is not None
        call, kind, number = step.call, step.fault, self.number
        offset = {"read": self.bytes_read, "write": self.bytes_written}.get(call)
        event = FaultEvent(number, call, kind, offset)
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)
        if kind == "refuse":
            return ConnectError(f"connection {number} refused (injected fault)")
        if kind == "tls_failure":
            return ConnectError(f"TLS handshake of connection {number} failed (injected fault)")
        if kind == "timeout":
            return _TIMEOUTS[call](
                f"{call} on connection {number} timed out after {step.delay} s (injected latency)"
            )
        if kind == "reset":
            if self.reset:
                return _ERRORS[call](f"connection {number} was reset (injected fault)")
            self.reset = True
            done = "read" if call == "read" else "written"
            return _ERRORS[call](
                f"connection {number} reset after {offset} bytes {done} (injected fault)"
            )
        # A stall: it ended because the stream was closed, its timeout ran out, or,
        # with no timeout, the stall limit.
        if self.closed:
            return _ERRORS[call](f"connection {number} was closed while a {call} stalled")
        if step.timeout is not None:
            return _TIMEOUTS[call](
                f"{call} on connection {number} stalled past its timeout of {step.timeout} s"
                " (injected fault)"
            )
        return StallLimitExceeded(
            f"a {call} on connection {number} stalled (injected fault) with no timeout, and "
            f"nothing closed the stream within stall_limit={self.stall_limit} s: without "
            "the limit it would have hung for ever"
        )


class BackendCore:
    """What a faulty backend keeps, minus the sync/async method signatures.

    Numbers connection attempts from 1 (under a lock: a blocking pool connects from
    several threads) and keeps the records.

    Args:
        plan: The fault plan.
    """

    def __init__(self, plan: Faults | None) -> None:
        self._plan = Faults() if plan is None else plan
        self._lock = threading.Lock()
        self.connection_faults: list[ConnectionFaults] = []
        """The faults of each connection attempt, in order: ``[0]`` is connection 1."""
        self.events: list[FaultEvent] = []
        """Every fault injected, on any connection, in order."""

    @property
    def plan(self) -> Faults:
        """The fault plan."""
        return self._plan

    def _next_connection(self) -> ConnectionLogic:
        with self._lock:
            number = len(self.connection_faults) + 1
            faults = self._plan.for_connection(number)
            self.connection_faults.append(faults)
        return ConnectionLogic(
            number, faults, stall_limit=self._plan.stall_limit, on_event=self.events.append
        )
