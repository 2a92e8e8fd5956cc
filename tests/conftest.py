"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per event loop."""
    return str(request.param)


def _heavy_cell() -> bool:
    """Whether storms, soaks and full-length property runs belong in this run.

    ``NETBACKEND_HEAVY_TESTS=1`` or ``0`` decides; unset, only the default matrix cell
    runs them (Python 3.11, every backend, latest dependencies), so that the other cells
    of CI stay quick: what those tests check does not depend on the cell.
    """
    chosen = os.environ.get("NETBACKEND_HEAVY_TESTS")
    if chosen is not None:
        return chosen == "1"
    return (
        sys.version_info[:2] == (3, 11)
        and os.environ.get("NETBACKEND_TEST_SET", "all") == "all"
        and os.environ.get("UV_RESOLUTION") != "lowest-direct"
    )


def pytest_configure(config: pytest.Config) -> None:
    # Read by the test modules as they are imported (property example counts).
    os.environ["NETBACKEND_HEAVY_TESTS"] = "1" if _heavy_cell() else "0"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ["NETBACKEND_HEAVY_TESTS"] == "1":
        return
    skip = pytest.mark.skip(reason="heavy: runs in the default cell (NETBACKEND_HEAVY_TESTS=1)")
    for item in items:
        if item.get_closest_marker("heavy") is not None:
            item.add_marker(skip)
