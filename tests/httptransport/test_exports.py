"""The package's public names: __all__, and the lazily resolved backend classes."""

from __future__ import annotations

import importlib.metadata

import pytest

import httptransport
import netbackend_base

BACKEND_PACKAGES = {
    "SyncBackend": "netbackend-sync",
    "AnyIOBackend": "netbackend-anyio",
    "TrioBackend": "netbackend-trio",
    "MockBackend": "netbackend-mock",
    "MockStream": "netbackend-mock",
    "AsyncMockBackend": "netbackend-mock",
    "AsyncMockStream": "netbackend-mock",
}

CORE_NAMES = {
    "request",
    "stream",
    "URL",
    "Origin",
    "Request",
    "Response",
    "default_ssl_context",
    "SOCKET_OPTION",
    "NetworkStream",
    "NetworkBackend",
    "AsyncNetworkStream",
    "AsyncNetworkBackend",
    "ConnectionNotAvailable",
    "ProxyError",
    "ProtocolError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "UnsupportedProtocol",
    "TimeoutException",
    "PoolTimeout",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "NetworkError",
    "ConnectError",
    "ReadError",
    "WriteError",
    "__version__",
}

POOL_NAMES = {
    "ConnectionPool",
    "HTTPConnection",
    "HTTP11Connection",
    "HTTP2Connection",
    "ConnectionInterface",
    "AsyncConnectionPool",
    "AsyncHTTPConnection",
    "AsyncHTTP11Connection",
    "AsyncHTTP2Connection",
    "AsyncConnectionInterface",
    "Proxy",
    "HTTPProxy",
    "SOCKSProxy",
    "AsyncHTTPProxy",
    "AsyncSOCKSProxy",
}


def registered_classes() -> set[str]:
    """The class names installed packages register for netbackend.classes."""
    return {ep.name for ep in importlib.metadata.entry_points(group="netbackend.classes")}


def test_all_is_a_sorted_tuple_of_real_names() -> None:
    """__all__ is a tuple without duplicates, and every name in it exists."""
    assert isinstance(httptransport.__all__, tuple)
    assert len(set(httptransport.__all__)) == len(httptransport.__all__)
    for name in httptransport.__all__:
        assert getattr(httptransport, name) is not None


def test_all_contents() -> None:
    """__all__ holds exactly the core names, the pools and connections, and the proxies."""
    assert set(httptransport.__all__) == CORE_NAMES | POOL_NAMES


def test_backend_classes_not_in_all() -> None:
    """Lazily resolved classes stay out of __all__, so star imports never fail."""
    assert not set(BACKEND_PACKAGES) & set(httptransport.__all__)


def test_star_import() -> None:
    """from httptransport import * succeeds whatever backends are installed."""
    namespace: dict[str, object] = {}
    exec("from httptransport import *", namespace)
    assert "Request" in namespace


def test_interface_classes_are_netbackend_base_classes() -> None:
    """The backend interface classes are netbackend_base's own."""
    for name in ("NetworkStream", "NetworkBackend", "AsyncNetworkStream", "AsyncNetworkBackend"):
        assert getattr(httptransport, name) is getattr(netbackend_base, name)
    assert httptransport.SOCKET_OPTION is netbackend_base.SOCKET_OPTION


@pytest.mark.parametrize("name", sorted(BACKEND_PACKAGES))
def test_lazy_backend_class(name: str) -> None:
    """An installed backend class resolves to its class; a missing one names its package."""
    if name in registered_classes():
        cls = getattr(httptransport, name)
        assert isinstance(cls, type)
        assert cls.__name__ == name
        assert cls is netbackend_base.load_class(name)
        assert getattr(httptransport, name) is cls
    else:
        with pytest.raises(
            netbackend_base.BackendNotFoundError, match=f"pip install {BACKEND_PACKAGES[name]}"
        ):
            getattr(httptransport, name)


def test_unknown_attribute_is_attribute_error() -> None:
    """Names that are not backend classes raise AttributeError, so hasattr works."""
    with pytest.raises(AttributeError, match="module 'httptransport' has no attribute 'Nope'"):
        httptransport.Nope  # noqa: B018
    assert not hasattr(httptransport, "Nope")


def test_dir_lists_backend_classes() -> None:
    """dir() includes the lazily resolved names and the ordinary ones."""
    names = dir(httptransport)
    assert set(BACKEND_PACKAGES) <= set(names)
    assert "Request" in names


def test_importing_pulls_in_no_backend() -> None:
    """Importing httptransport alone imports no backend package, anyio or trio."""
    import subprocess
    import sys

    code = (
        "import sys, httptransport\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('netbackend_sync', 'netbackend_anyio', 'netbackend_trio', 'netbackend_mock', "
        "'anyio', 'trio')]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_missing_backend_names_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no backend registered, a known class raises BackendNotFoundError (even hasattr)."""
    import httptransport._backends as backends
    import netbackend_base._discovery as discovery

    monkeypatch.setattr(backends, "_loaded", {})
    monkeypatch.setattr(discovery, "_scan", lambda group: [])
    with pytest.raises(netbackend_base.BackendNotFoundError, match="pip install netbackend-trio"):
        httptransport.TrioBackend  # noqa: B018
    with pytest.raises(ImportError, match="pip install netbackend-mock"):
        hasattr(httptransport, "MockStream")
