"""The trace extension's events and the DEBUG logs of traced phases."""

from __future__ import annotations

import logging
import typing

import pytest

import httptransport
from httptransport._trace import NO_TRACE, Trace, tracing_enabled

Events = list[tuple[str, dict[str, typing.Any]]]


@pytest.fixture
def logger() -> logging.Logger:
    """A logger named like the HTTP/1.1 connection's, with its level left to the test."""
    return logging.getLogger("httptransport.http11")


def make_request(events: Events | None = None) -> httptransport.Request:
    """A request that records trace events into ``events`` when given."""
    extensions: dict[str, typing.Any] = {}
    if events is not None:
        extensions["trace"] = lambda name, info: events.append((name, info))
    return httptransport.Request("GET", "http://a/", extensions=extensions)


def make_async_request(events: Events) -> httptransport.Request:
    """A request whose async trace callback records events into ``events``."""

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append((name, info))

    return httptransport.Request("GET", "http://a/", extensions={"trace": trace})


def test_complete_events(logger: logging.Logger) -> None:
    """A phase reports started with its arguments, then complete with its return value."""
    events: Events = []
    request = make_request(events)
    with Trace("send_request_headers", logger, request, {"request": request}) as trace:
        trace.return_value = 42
    assert events == [
        ("http11.send_request_headers.started", {"request": request}),
        ("http11.send_request_headers.complete", {"return_value": 42}),
    ]


def test_failed_event(logger: logging.Logger) -> None:
    """A phase that raises reports failed with the exception, which propagates."""
    events: Events = []
    error = httptransport.ReadError("boom")
    with (
        pytest.raises(httptransport.ReadError),
        Trace("receive_response_body", logger, make_request(events)),
    ):
        raise error
    assert events == [
        ("http11.receive_response_body.started", {}),
        ("http11.receive_response_body.failed", {"exception": error}),
    ]


def test_prefix_from_logger_name() -> None:
    """The event prefix is the last part of the logger's name."""
    events: Events = []
    with Trace("connect_tcp", logging.getLogger("httptransport.connection"), make_request(events)):
        pass
    assert [name for name, _ in events] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
    ]


def test_nested_phases_order(logger: logging.Logger) -> None:
    """Nested phases report in the order they start and finish."""
    events: Events = []
    request = make_request(events)
    with Trace("outer", logger, request), Trace("inner", logger, request):
        pass
    assert [name for name, _ in events] == [
        "http11.outer.started",
        "http11.inner.started",
        "http11.inner.complete",
        "http11.outer.complete",
    ]


def test_sync_trace_rejects_async_callback(logger: logging.Logger) -> None:
    """A sync phase given an async callback raises TypeError (and leaks no coroutine)."""
    with (
        pytest.raises(TypeError, match="plain function"),
        Trace("phase", logger, make_async_request([])),
    ):
        pass


@pytest.mark.anyio
async def test_async_events(logger: logging.Logger) -> None:
    """async with awaits the callback for started and complete."""
    events: Events = []
    request = make_async_request(events)
    async with Trace("receive_response_headers", logger, request, {"request": request}) as trace:
        trace.return_value = (b"HTTP/1.1", 200)
    assert events == [
        ("http11.receive_response_headers.started", {"request": request}),
        ("http11.receive_response_headers.complete", {"return_value": (b"HTTP/1.1", 200)}),
    ]


@pytest.mark.anyio
async def test_async_failed_event(logger: logging.Logger) -> None:
    """An async phase that raises reports failed and re-raises."""
    events: Events = []
    error = httptransport.RemoteProtocolError("closed")
    with pytest.raises(httptransport.RemoteProtocolError):
        async with Trace("response_closed", logger, make_async_request(events)):
            raise error
    assert events[-1] == ("http11.response_closed.failed", {"exception": error})


@pytest.mark.anyio
async def test_async_trace_rejects_sync_callback(logger: logging.Logger) -> None:
    """An async phase given a plain callback raises TypeError."""
    with pytest.raises(TypeError, match="async function"):
        async with Trace("phase", logger, make_request([])):
            pass


def test_debug_logging(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG each event is logged on the phase's logger with its details."""
    caplog.set_level(logging.DEBUG, logger="httptransport")
    with Trace("connect_tcp", logger, None, {"host": "a", "port": 80}) as trace:
        trace.return_value = "stream"
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        ("httptransport.http11", logging.DEBUG, "connect_tcp.started host='a' port=80"),
        ("httptransport.http11", logging.DEBUG, "connect_tcp.complete return_value='stream'"),
    ]


def test_debug_logging_terse_when_nothing_returned(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A phase without arguments or return value logs just its event names."""
    caplog.set_level(logging.DEBUG, logger="httptransport")
    with Trace("response_closed", logger):
        pass
    assert [r.getMessage() for r in caplog.records] == [
        "response_closed.started",
        "response_closed.complete",
    ]


def test_debug_logging_failure(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    """A failed phase logs the exception's repr."""
    caplog.set_level(logging.DEBUG, logger="httptransport")
    with pytest.raises(ValueError), Trace("phase", logger):
        raise ValueError("x")
    assert caplog.records[-1].getMessage() == "phase.failed exception=ValueError('x')"


def test_nothing_logged_above_debug(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """Without DEBUG enabled nothing is logged, though the callback still runs."""
    caplog.set_level(logging.INFO, logger="httptransport")
    events: Events = []
    with Trace("phase", logger, make_request(events)):
        pass
    assert caplog.records == []
    assert len(events) == 2


def test_tracing_enabled(logger: logging.Logger, caplog: pytest.LogCaptureFixture) -> None:
    """Tracing is needed with a trace extension or a DEBUG logger, and not otherwise."""
    caplog.set_level(logging.INFO, logger="httptransport")
    assert not tracing_enabled(make_request(), logger)
    assert tracing_enabled(make_request([]), logger)
    caplog.set_level(logging.DEBUG, logger="httptransport")
    assert tracing_enabled(make_request(), logger)


def test_no_trace_is_inert() -> None:
    """NO_TRACE enters as itself, forgets return values and lets exceptions through."""
    with NO_TRACE as trace:
        trace.return_value = 1
    assert trace is NO_TRACE
    assert NO_TRACE.return_value is None
    with pytest.raises(KeyError), NO_TRACE:
        raise KeyError("x")


@pytest.mark.anyio
async def test_no_trace_async() -> None:
    """NO_TRACE works with async with and lets exceptions through."""
    async with NO_TRACE as trace:
        trace.return_value = 1
    assert trace is NO_TRACE
    with pytest.raises(KeyError):
        async with NO_TRACE:
            raise KeyError("x")


def test_usage_pattern_allocates_no_kwargs(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """The documented conditional pattern picks NO_TRACE and never builds the kwargs."""
    caplog.set_level(logging.INFO, logger="httptransport")
    request = make_request()
    built = []

    def kwargs() -> dict[str, typing.Any]:
        built.append(1)
        return {}

    traced = tracing_enabled(request, logger)
    with Trace("phase", logger, request, kwargs()) if traced else NO_TRACE as trace:
        pass
    assert trace is NO_TRACE
    assert built == []


def test_untraced_trace_does_nothing(
    logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """A Trace built while nobody listens neither logs nor fails."""
    caplog.set_level(logging.INFO, logger="httptransport")
    with Trace("phase", logger, make_request()):
        pass
    assert caplog.records == []
