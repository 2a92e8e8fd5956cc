"""The ``timeout`` extension of a request: each phase's timeout and the ``total`` deadline.

No I/O. The models re-export these names (:mod:`httptransport._models`), where the
connections and pools import them from.
"""

from __future__ import annotations

import time
import typing

from ._exceptions import ReadTimeout

__all__ = ("head_deadline", "time_left", "timeouts")


class TimedRequest(typing.Protocol):
    """What :func:`timeouts` needs of a request (a :class:`~httptransport.Request`)."""

    extensions: typing.MutableMapping[str, typing.Any]
    _deadline: float | None


_NO_TIMEOUTS: typing.Mapping[str, float | None] = {}


_PHASES = ("connect", "read", "write", "pool")


def timeouts(request: TimedRequest) -> typing.Mapping[str, float | None]:
    """The request's ``timeout`` extension (``connect``, ``read``, ``write``, ``pool``);
    an empty mapping when it sets none. A missing key means no timeout.

    With a ``total`` key, one deadline covers the whole exchange: the first call fixes
    it (``total`` seconds from then, in ``request._deadline``), and every call returns
    each phase's timeout cut to the time left, ``0.0`` once it has run out. The pool
    calls this before its wait, the connection before connecting and before sending;
    the response head and body then check the deadline on every read
    (:func:`time_left`).
    """
    given = request.extensions.get("timeout") or _NO_TIMEOUTS
    if "total" not in given:
        return given
    now = time.monotonic()
    deadline = request._deadline
    if deadline is None:
        total = given["total"]
        if total is None:
            return given
        deadline = request._deadline = now + total
    left = max(0.0, deadline - now)
    clamped = dict(given)
    for phase in _PHASES:
        value = given.get(phase)
        clamped[phase] = left if value is None or value > left else value
    return clamped


def head_deadline(read_timeout: float | None, total: float | None, now: float) -> float | None:
    """When a whole response head must have arrived: ``read_timeout`` after ``now``
    (``time.monotonic()``), or the request's total deadline if that comes first."""
    if read_timeout is None:
        return total
    deadline = now + read_timeout
    return deadline if total is None or deadline < total else total


def time_left(
    timeout: float | None,
    deadline: float | None,
    error: type[Exception] = ReadTimeout,
    what: str = "the response ended",
) -> float | None:
    """The timeout for one wait: ``timeout``, cut to what is left until ``deadline``
    (a ``time.monotonic()`` value; ``None``: no deadline).

    Raises:
        error: The deadline has passed (by default :class:`ReadTimeout`).
    """
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(f"Timed out: the request's total timeout ran out before {what}.")
    return left if timeout is None or timeout > left else timeout
