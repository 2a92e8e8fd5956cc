# Generated from tests/httptransport/_async/test_h1_fast_logging.py by scripts/unasync.py: do not edit.  # noqa: E501
"""An HTTP/1.1 connection reads the logger's cached "DEBUG is off" answer instead of
asking ``isEnabledFor()`` on every request: debug logging switched on between two
requests on one connection still traces the second one, and switched off again stops."""

from __future__ import annotations

import logging

import pytest

import netbackend_mock
from httptransport import ConnectionPool

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
LOGGER = "httptransport.http11"


def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" ", 1)[0] for r in caplog.records if r.name == LOGGER]


def test_debug_logging_switched_on_between_requests_traces_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Off (the answer cached as False), on (the next request is traced), off again."""
    backend = netbackend_mock.MockBackend([RESPONSE] * 3)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with ConnectionPool(network_backend=backend) as pool:
        response = pool.request("GET", "http://example.com/")
        assert response.content == b"hello"
        assert not logging.getLogger(LOGGER).isEnabledFor(logging.DEBUG)
        assert _events(caplog) == []

        caplog.set_level(logging.DEBUG, logger=LOGGER)
        response = pool.request("GET", "http://example.com/")
        assert response.content == b"hello"
        events = _events(caplog)
        assert "send_request_headers.started" in events
        assert "receive_response_headers.complete" in events

        caplog.clear()
        caplog.set_level(logging.INFO, logger=LOGGER)
        response = pool.request("GET", "http://example.com/")
        assert response.content == b"hello"
        assert _events(caplog) == []
        assert len(pool.connections) == 1
