"""conftest.py for httpcore's extracted tests (run.py copies it in beside ``tests/``).

httpcore 1.0.9 ships no conftest: its ``@pytest.mark.anyio`` tests take anyio's default
``anyio_backend``, asyncio only, and its few ``@pytest.mark.trio`` tests run on pytest-trio.
We run every anyio test on both event loops, as our own suite does.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each ``@pytest.mark.anyio`` test once per event loop."""
    return str(request.param)
