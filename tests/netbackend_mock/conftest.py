"""Fixtures for the mock package's tests: a loopback echo server and the real backends.

The echo server is the conformance suite's (``tests/conformance/servers.py``), loaded by
path under the same module name as there, so both directories share one copy.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from netbackend_base import (
    AsyncNetworkBackend,
    BackendNotFoundError,
    NetworkBackend,
    default_async_backend,
    default_backend,
)


def _load_servers() -> types.ModuleType:
    # The name conformance/conftest.py registers it under: whichever loads first wins.
    name = "_netbackend_conformance_servers"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent.parent / "conformance" / "servers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs: dataclasses look their module up in sys.modules.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


if typing.TYPE_CHECKING:
    from conformance import servers
    from conformance.servers import ThreadedServer
else:
    servers = _load_servers()


@pytest.fixture
def echo_server() -> Iterator[ThreadedServer]:
    """A TCP echo server on 127.0.0.1 (threads and blocking sockets)."""
    with servers.serving(
        servers.ThreadedServer(servers.listening_socket(), servers.echo_handler)
    ) as server:
        yield server


@pytest.fixture
def real_backend() -> NetworkBackend:
    """The installed blocking backend; skips when there is none."""
    try:
        return default_backend()
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def real_async_backend() -> typing.Callable[[], AsyncNetworkBackend]:
    """Makes the installed backend for the running loop (call it inside the test); the
    test skips when there is none."""

    def make() -> AsyncNetworkBackend:
        try:
            return default_async_backend()
        except BackendNotFoundError as exc:
            pytest.skip(str(exc))

    return make
