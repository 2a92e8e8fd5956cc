"""Tracing of connection and protocol phases: the ``trace`` extension and DEBUG logs.

What users see (as in httpcore 1.0)
-----------------------------------
A request's ``extensions["trace"]`` is a callback ``trace(event_name, info)``, a plain
function for the sync API, an ``async def`` for the async one. For each traced phase it
receives ``"<prefix>.<phase>.started"`` with the phase's arguments, then either
``"<prefix>.<phase>.complete"`` with ``{"return_value": ...}`` or
``"<prefix>.<phase>.failed"`` with ``{"exception": ...}``. The prefix is the last part
of the logger's name: ``connection.connect_tcp``, ``connection.start_tls``,
``http11.send_request_headers``, ``http11.send_request_body``,
``http11.receive_response_headers``, ``http11.receive_response_body``,
``http11.response_closed``, and so on.

Independently of the extension, the same events are logged at DEBUG on the logger
(``httptransport.connection``, ``httptransport.http11``, ...), as ``"<phase>.started
key=value ..."``, ``"<phase>.complete return_value=..."`` (just ``"<phase>.complete"``
when it returned ``None``) and ``"<phase>.failed exception=..."``.

API for connections and pools
-----------------------------
Tracing must cost nothing when nobody listens, so decide once per request and use the
shared no-op :data:`NO_TRACE` otherwise; the conditional expression keeps the ``kwargs``
dict from being built at all::

    logger = logging.getLogger("httptransport.http11")

    traced = tracing_enabled(request, logger)      # once per request
    ...
    with Trace("send_request_headers", logger, request, {"request": request}) if traced \
            else NO_TRACE as trace:
        ...
        trace.return_value = result                  # optional; ignored by NO_TRACE

and in async code the same with ``async with``. :class:`Trace` and :data:`NO_TRACE` are
both sync and async context managers. Neither swallows exceptions. A :class:`Trace`
built when tracing is off also does nothing (it checks in its constructor), so
``with Trace(...)`` alone is correct, just not free.

A sync :class:`Trace` whose callback returns a coroutine, or an async one whose callback
returns a non-awaitable, raises ``TypeError``: the callback does not fit the API in use.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing

if typing.TYPE_CHECKING:
    from ._models import Request

__all__ = ("NO_TRACE", "NullTrace", "Trace", "tracing_enabled")

_DEBUG = logging.DEBUG


def tracing_enabled(request: Request, logger: logging.Logger) -> bool:
    """Whether phases of ``request`` on ``logger`` need tracing at all.

    True when the request has a ``trace`` extension or ``logger`` logs at DEBUG.
    Cheap (a dict lookup and the logging module's cached level check), but meant to be
    called once per request and its result reused for every phase.
    """
    return request.extensions.get("trace") is not None or logger.isEnabledFor(_DEBUG)


class Trace:
    """Report one phase, as events to the ``trace`` extension and as DEBUG logs.

    Use it as ``with`` in sync code and ``async with`` in async code. Set
    :attr:`return_value` inside the block to report it with the ``complete`` event.

    Attributes:
        return_value: What the phase produced; ``None`` unless set.
    """

    __slots__ = ("_callback", "_debug", "_kwargs", "_logger", "_name", "_prefix", "return_value")

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        request: Request | None = None,
        kwargs: dict[str, typing.Any] | None = None,
    ) -> None:
        """Prepare to trace the phase ``name``.

        Args:
            name: The phase, such as ``"send_request_headers"``.
            logger: Where to log; the last dotted part of its name is the event prefix.
            request: The request whose ``trace`` extension receives the events.
            kwargs: The phase's arguments, reported with the ``started`` event.
        """
        self._name = name
        self._logger = logger
        self._callback: typing.Callable[[str, dict[str, typing.Any]], typing.Any] | None = (
            None if request is None else request.extensions.get("trace")
        )
        self._debug = logger.isEnabledFor(_DEBUG)
        self._kwargs = {} if kwargs is None else kwargs
        self._prefix = logger.name.rpartition(".")[2]
        self.return_value: typing.Any = None

    def _log(self, event: str, info: dict[str, typing.Any]) -> None:
        if not info or ("return_value" in info and info["return_value"] is None):
            self._logger.debug(event)
        else:
            details = " ".join(f"{key}={value!r}" for key, value in info.items())
            self._logger.debug(f"{event} {details}")

    def _emit(self, phase: str, info: dict[str, typing.Any]) -> None:
        event = f"{self._name}.{phase}"
        callback = self._callback
        if callback is not None:
            result = callback(f"{self._prefix}.{event}", info)
            if inspect.iscoroutine(result):
                result.close()  # never awaited: close it so no warning leaks out
                raise TypeError(
                    "The 'trace' extension of a synchronous request must be a plain "
                    "function, not an async one."
                )
        if self._debug:
            self._log(event, info)

    async def _aemit(self, phase: str, info: dict[str, typing.Any]) -> None:
        event = f"{self._name}.{phase}"
        callback = self._callback
        if callback is not None:
            result = callback(f"{self._prefix}.{event}", info)
            if not inspect.isawaitable(result):
                raise TypeError(
                    "The 'trace' extension of an asynchronous request must be an async "
                    "function, not a plain one."
                )
            await result
        if self._debug:
            self._log(event, info)

    def _outcome(self, exc: BaseException | None) -> tuple[str, dict[str, typing.Any]]:
        if exc is None:
            return "complete", {"return_value": self.return_value}
        return "failed", {"exception": exc}

    def __enter__(self) -> Trace:
        if self._callback is not None or self._debug:
            self._emit("started", self._kwargs)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._callback is not None or self._debug:
            self._emit(*self._outcome(exc))

    async def __aenter__(self) -> Trace:
        if self._callback is not None or self._debug:
            await self._aemit("started", self._kwargs)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._callback is not None or self._debug:
            await self._aemit(*self._outcome(exc))


class NullTrace:
    """A stand-in for :class:`Trace` that does nothing, shared as :data:`NO_TRACE`.

    Setting ``return_value`` on it is accepted and forgotten, so code written for
    :class:`Trace` works unchanged.
    """

    __slots__ = ()

    @property
    def return_value(self) -> typing.Any:
        """Always ``None``."""
        return None

    @return_value.setter
    def return_value(self, value: typing.Any) -> None:
        pass

    def __enter__(self) -> NullTrace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        return None

    async def __aenter__(self) -> NullTrace:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        return None


NO_TRACE = NullTrace()
"""The shared no-op trace, for phases of requests that nobody traces."""
