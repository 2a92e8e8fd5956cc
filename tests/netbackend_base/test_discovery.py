"""Backend discovery: against fake entry points, and against what is really installed."""

from __future__ import annotations

import importlib
import importlib.util
import typing

import pytest

import netbackend_base
from netbackend_base import (
    CONTEXTS,
    BackendInfo,
    BackendNotFoundError,
    _discovery,
    default_async_backend,
    default_backend,
    find_backend,
    installed_backends,
    load_class,
)

# --- fake installations -------------------------------------------------------------

HINTS = {
    "sync": "pip install netbackend-sync",
    "asyncio": "pip install netbackend-anyio",
    "trio": "pip install netbackend-trio",
}


@pytest.mark.parametrize("context", CONTEXTS)
def test_nothing_installed_names_the_package_to_install(
    fake_install: typing.Any, context: str
) -> None:
    """With no backend installed, find_backend raises with the pip command that fixes it."""
    with pytest.raises(BackendNotFoundError, match=HINTS[context]):
        find_backend(context)


def test_nothing_installed_default_backend_raises(fake_install: typing.Any) -> None:
    """default_backend() with no blocking backend raises BackendNotFoundError (an ImportError)."""
    with pytest.raises(ImportError, match="netbackend-sync"):
        default_backend()


@pytest.mark.anyio
async def test_nothing_installed_default_async_backend_names_the_loop_package(
    fake_install: typing.Any, anyio_backend: str
) -> None:
    """default_async_backend() names the package for the running loop when none is installed."""
    package = {"asyncio": "netbackend-anyio", "trio": "netbackend-trio"}[anyio_backend]
    with pytest.raises(BackendNotFoundError, match=package):
        default_async_backend()


def test_sync_alone(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """netbackend-sync alone serves blocking code and nothing async."""
    fake_install.install("sync")
    assert find_backend("sync") is fake_classes["sync"]
    assert isinstance(default_backend(), fake_classes["sync"])
    for context in ("asyncio", "trio"):
        with pytest.raises(BackendNotFoundError, match=HINTS[context]):
            find_backend(context)


def test_anyio_alone(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """netbackend-anyio alone serves asyncio and trio, but not blocking code."""
    fake_install.install("anyio")
    assert find_backend("asyncio") is fake_classes["anyio"]
    assert find_backend("trio") is fake_classes["anyio"]
    with pytest.raises(BackendNotFoundError, match=HINTS["sync"]):
        find_backend("sync")


def test_trio_alone(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """netbackend-trio alone serves trio only; asyncio asks for netbackend-anyio."""
    fake_install.install("trio")
    assert find_backend("trio") is fake_classes["trio"]
    with pytest.raises(BackendNotFoundError, match=HINTS["asyncio"]):
        find_backend("asyncio")
    with pytest.raises(BackendNotFoundError, match=HINTS["sync"]):
        find_backend("sync")


def test_mock_alone_serves_no_context(fake_install: typing.Any) -> None:
    """netbackend-mock registers classes only, so it is never picked as a default."""
    fake_install.install("mock")
    for context in CONTEXTS:
        with pytest.raises(BackendNotFoundError):
            find_backend(context)


@pytest.mark.parametrize("order", [("sync", "anyio", "trio"), ("trio", "anyio", "sync")])
def test_all_installed(
    fake_install: typing.Any, fake_classes: dict[str, type], order: tuple[str, ...]
) -> None:
    """With everything installed trio gets TrioBackend, whatever the scan order."""
    fake_install.install(*order)
    assert find_backend("sync") is fake_classes["sync"]
    assert find_backend("asyncio") is fake_classes["anyio"]
    assert find_backend("trio") is fake_classes["trio"]


@pytest.mark.anyio
async def test_default_async_backend_follows_the_running_loop(
    fake_install: typing.Any, fake_classes: dict[str, type], anyio_backend: str
) -> None:
    """default_async_backend() builds the preferred backend of the running loop."""
    fake_install.install("sync", "anyio", "trio")
    expected = fake_classes["anyio" if anyio_backend == "asyncio" else "trio"]
    assert type(default_async_backend()) is expected


def test_default_async_backend_outside_a_loop_raises(fake_install: typing.Any) -> None:
    """default_async_backend() outside an event loop raises RuntimeError."""
    fake_install.install("anyio")
    with pytest.raises(RuntimeError):
        default_async_backend()


def test_third_party_ranks_after_ours(
    fake_install: typing.Any, fake_classes: dict[str, type]
) -> None:
    """An unknown backend never beats ours, even when its name sorts first."""
    fake_install.install("thirdparty", "anyio")
    assert find_backend("asyncio") is fake_classes["anyio"]
    assert find_backend("trio") is fake_classes["anyio"]


def test_third_party_ranks_after_trio(
    fake_install: typing.Any, fake_classes: dict[str, type]
) -> None:
    """Under trio the order is TrioBackend, then AnyIOBackend, then unknown backends."""
    fake_install.install("thirdparty", "trio", "anyio")
    assert find_backend("trio") is fake_classes["trio"]


def test_third_party_alone_is_used(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """When only an unknown backend serves a context, it is chosen."""
    fake_install.install("thirdparty")
    assert find_backend("asyncio") is fake_classes["thirdparty"]
    assert find_backend("trio") is fake_classes["thirdparty"]


def test_unknown_backends_are_ordered_by_name(
    fake_install: typing.Any, fake_classes: dict[str, type]
) -> None:
    """Between unknown backends, the entry-point name decides (here "aaa" < "aardvark")."""
    fake_install.install("thirdparty", "thirdparty2")
    assert find_backend("asyncio") is fake_classes["thirdparty2"]


@pytest.mark.parametrize("context", ["", "curio", "Sync", "anyio"])
def test_unknown_context_raises_value_error(fake_install: typing.Any, context: str) -> None:
    """A context outside CONTEXTS is a ValueError, before any entry point is scanned."""
    fake_install.install("sync", "anyio", "trio")
    with pytest.raises(ValueError, match="unknown context"):
        find_backend(context)
    assert fake_install.scans == []


def test_choice_is_cached_until_cleared(
    fake_install: typing.Any, fake_classes: dict[str, type]
) -> None:
    """find_backend scans once per context; _clear_cache makes it look again."""
    fake_install.install("sync")
    assert find_backend("sync") is fake_classes["sync"]
    assert find_backend("sync") is fake_classes["sync"]
    assert fake_install.scans == ["netbackend.sync"]
    fake_install.install()  # uninstalled, but the cached choice stands
    assert find_backend("sync") is fake_classes["sync"]
    _discovery._clear_cache()
    with pytest.raises(BackendNotFoundError):
        find_backend("sync")


def test_failures_are_not_cached(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """A context with no backend is looked up again next time, so a later install counts."""
    with pytest.raises(BackendNotFoundError):
        find_backend("sync")
    fake_install.install("sync")
    assert find_backend("sync") is fake_classes["sync"]


def test_installed_backends_lists_each_with_its_contexts(fake_install: typing.Any) -> None:
    """installed_backends() has one entry per backend, with all its contexts, sorted by name."""
    fake_install.install("trio", "sync", "anyio", "mock")
    backends = installed_backends()
    assert all(isinstance(info, BackendInfo) for info in backends)
    assert [(info.name, info.contexts) for info in backends] == [
        ("anyio", ("asyncio", "trio")),
        ("sync", ("sync",)),
        ("trio", ("trio",)),
    ]
    assert backends[0].target == "_netbackend_fake_backends:FakeAnyIOBackend"
    assert backends[0].distribution is None  # our fake entry points have no distribution


def test_installed_backends_empty(fake_install: typing.Any) -> None:
    """With nothing installed installed_backends() is empty."""
    assert installed_backends() == ()


def test_backend_info_load_imports_the_class(
    fake_install: typing.Any, fake_classes: dict[str, type]
) -> None:
    """BackendInfo.load() returns the registered class."""
    fake_install.install("trio")
    (info,) = installed_backends()
    assert info.load() is fake_classes["trio"]


def test_load_class_hit(fake_install: typing.Any, fake_classes: dict[str, type]) -> None:
    """load_class returns the class registered under that name in netbackend.classes."""
    fake_install.install("mock", "sync")
    assert load_class("MockBackend") is fake_classes["mock"]
    assert load_class("SyncBackend") is fake_classes["sync"]


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("SyncBackend", "netbackend-sync"),
        ("AnyIOBackend", "netbackend-anyio"),
        ("TrioBackend", "netbackend-trio"),
        ("MockBackend", "netbackend-mock"),
        ("AsyncMockStream", "netbackend-mock"),
    ],
)
def test_load_class_missing_names_the_package(
    fake_install: typing.Any, name: str, package: str
) -> None:
    """A missing class of ours raises BackendNotFoundError with the pip command."""
    with pytest.raises(
        BackendNotFoundError, match=f"{name} is not available.*pip install {package}"
    ):
        load_class(name)


def test_load_class_unknown_name_has_no_hint(fake_install: typing.Any) -> None:
    """A name nobody registers raises BackendNotFoundError without an install hint."""
    fake_install.install("sync", "anyio", "trio", "mock")
    with pytest.raises(BackendNotFoundError) as info:
        load_class("NoSuchBackend")
    assert "NoSuchBackend" in str(info.value)
    assert "pip install" not in str(info.value)


def test_real_scan_reads_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """_scan asks importlib.metadata.entry_points for exactly the group it is given."""
    asked: list[str] = []

    def entry_points(*, group: str) -> list[object]:
        asked.append(group)
        return []

    monkeypatch.setattr(_discovery, "entry_points", entry_points)
    with pytest.raises(BackendNotFoundError):
        find_backend("trio")
    assert asked == ["netbackend.trio"]


# --- the real installation ------------------------------------------------------------
# CI runs these with different sets of backend packages installed (none, each alone, all),
# so every expectation is derived from what is importable here.


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _class(module: str, name: str) -> type:
    return typing.cast(type, getattr(importlib.import_module(module), name))


def test_real_sync() -> None:
    """Blocking code gets SyncBackend when netbackend-sync is installed, else the pip hint."""
    if _installed("netbackend_sync"):
        assert find_backend("sync") is _class("netbackend_sync", "SyncBackend")
    else:
        with pytest.raises(BackendNotFoundError, match="pip install netbackend-sync"):
            find_backend("sync")


def test_real_asyncio() -> None:
    """asyncio gets AnyIOBackend when netbackend-anyio is installed, else the pip hint."""
    if _installed("netbackend_anyio"):
        assert find_backend("asyncio") is _class("netbackend_anyio", "AnyIOBackend")
    else:
        with pytest.raises(BackendNotFoundError, match="pip install netbackend-anyio"):
            find_backend("asyncio")


def test_real_trio() -> None:
    """trio prefers TrioBackend, then AnyIOBackend; with neither the hint names a package."""
    if _installed("netbackend_trio"):
        assert find_backend("trio") is _class("netbackend_trio", "TrioBackend")
    elif _installed("netbackend_anyio"):
        assert find_backend("trio") is _class("netbackend_anyio", "AnyIOBackend")
    else:
        with pytest.raises(BackendNotFoundError, match="pip install netbackend-trio"):
            find_backend("trio")


def test_real_installed_backends_match_the_packages() -> None:
    """installed_backends() lists exactly our backends that are importable, with contexts."""
    expected = {
        name: contexts
        for name, module, contexts in [
            ("sync", "netbackend_sync", ("sync",)),
            ("anyio", "netbackend_anyio", ("asyncio", "trio")),
            ("trio", "netbackend_trio", ("trio",)),
        ]
        if _installed(module)
    }
    found = {info.name: info.contexts for info in installed_backends() if info.name in expected}
    assert found == expected
    ours = {"sync", "anyio", "trio"}
    assert {info.name for info in installed_backends()} & ours == set(expected)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("SyncBackend", "netbackend_sync"),
        ("AnyIOBackend", "netbackend_anyio"),
        ("TrioBackend", "netbackend_trio"),
        ("MockBackend", "netbackend_mock"),
        ("MockStream", "netbackend_mock"),
        ("AsyncMockBackend", "netbackend_mock"),
        ("AsyncMockStream", "netbackend_mock"),
    ],
)
def test_real_load_class(name: str, module: str) -> None:
    """load_class finds each of our classes when its package is installed, else hints."""
    if _installed(module):
        assert load_class(name) is _class(module, name)
    else:
        package = module.replace("_", "-")
        with pytest.raises(BackendNotFoundError, match=f"pip install {package}"):
            load_class(name)


def test_real_default_backend() -> None:
    """default_backend() is a fresh NetworkBackend each call when a blocking backend exists."""
    if not _installed("netbackend_sync"):
        pytest.skip("netbackend-sync is not installed")
    first, second = default_backend(), default_backend()
    assert isinstance(first, netbackend_base.NetworkBackend)
    assert first is not second
