"""Behaviour specific to the anyio backend."""

from __future__ import annotations

import types
from collections.abc import Callable

import anyio
import pytest

from netbackend_base import AsyncNetworkBackend


def test_runs_on_uvloop(require: Callable[[str], types.ModuleType], echo_port: int) -> None:
    """With uvloop installed, the backend connects and echoes on a uvloop event loop."""
    backend_class: type[AsyncNetworkBackend] = require("netbackend_anyio").AnyIOBackend
    pytest.importorskip("uvloop")

    async def main() -> bytes:
        stream = await backend_class().connect_tcp("127.0.0.1", echo_port, timeout=5)
        try:
            await stream.write(b"uv")
            return await stream.read(10, timeout=5)
        finally:
            await stream.aclose()

    assert anyio.run(main, backend="asyncio", backend_options={"use_uvloop": True}) == b"UV"
