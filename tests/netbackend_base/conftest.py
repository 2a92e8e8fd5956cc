"""Fixtures for netbackend-base's tests: a clean discovery cache and fake installations."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

import netbackend_base
from netbackend_base import _discovery

FAKE_MODULE = "_netbackend_fake_backends"


class FakeSyncBackend(netbackend_base.NetworkBackend):
    """Stands in for netbackend_sync.SyncBackend."""


class FakeAnyIOBackend(netbackend_base.AsyncNetworkBackend):
    """Stands in for netbackend_anyio.AnyIOBackend."""


class FakeTrioBackend(netbackend_base.AsyncNetworkBackend):
    """Stands in for netbackend_trio.TrioBackend."""


class FakeThirdPartyBackend(netbackend_base.AsyncNetworkBackend):
    """A backend from a package we do not know about."""


class FakeOtherThirdPartyBackend(netbackend_base.AsyncNetworkBackend):
    """A second unknown backend, to check that unknown ones are ordered by name."""


class FakeMockBackend(netbackend_base.NetworkBackend):
    """Stands in for netbackend_mock.MockBackend."""


def _ep(name: str, cls: type, group: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{FAKE_MODULE}:{cls.__name__}", group=group)


# What each fake distribution registers, group by group, like the real pyproject files.
# The third-party names sort before "anyio" on purpose: ranking must not be by name alone.
FAKE_DISTRIBUTIONS: dict[str, list[EntryPoint]] = {
    "sync": [
        _ep("sync", FakeSyncBackend, "netbackend.sync"),
        _ep("SyncBackend", FakeSyncBackend, "netbackend.classes"),
    ],
    "anyio": [
        _ep("anyio", FakeAnyIOBackend, "netbackend.asyncio"),
        _ep("anyio", FakeAnyIOBackend, "netbackend.trio"),
        _ep("AnyIOBackend", FakeAnyIOBackend, "netbackend.classes"),
    ],
    "trio": [
        _ep("trio", FakeTrioBackend, "netbackend.trio"),
        _ep("TrioBackend", FakeTrioBackend, "netbackend.classes"),
    ],
    "mock": [
        _ep("MockBackend", FakeMockBackend, "netbackend.classes"),
    ],
    "thirdparty": [
        _ep("aardvark", FakeThirdPartyBackend, "netbackend.asyncio"),
        _ep("aardvark", FakeThirdPartyBackend, "netbackend.trio"),
    ],
    "thirdparty2": [
        _ep("aaa", FakeOtherThirdPartyBackend, "netbackend.asyncio"),
    ],
}


@pytest.fixture(autouse=True)
def _clean_discovery_cache() -> Iterator[None]:
    """Start and end every test with no cached backend choice."""
    _discovery._clear_cache()
    yield
    _discovery._clear_cache()


class FakeInstall:
    """Replaces the entry-point scan with the fake distributions named in ``install``."""

    def __init__(self) -> None:
        self.installed: tuple[str, ...] = ()
        self.scans: list[str] = []

    def install(self, *names: str) -> None:
        self.installed = names

    def scan(self, group: str) -> list[EntryPoint]:
        self.scans.append(group)
        return [
            ep for name in self.installed for ep in FAKE_DISTRIBUTIONS[name] if ep.group == group
        ]


@pytest.fixture
def fake_install(monkeypatch: pytest.MonkeyPatch) -> FakeInstall:
    """Make discovery see only fake backends; nothing is installed until ``install()``."""
    module = types.ModuleType(FAKE_MODULE)
    for cls in (
        FakeSyncBackend,
        FakeAnyIOBackend,
        FakeTrioBackend,
        FakeThirdPartyBackend,
        FakeOtherThirdPartyBackend,
        FakeMockBackend,
    ):
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, FAKE_MODULE, module)
    fake = FakeInstall()
    monkeypatch.setattr(_discovery, "_scan", fake.scan)
    return fake


@pytest.fixture
def fake_classes() -> dict[str, type]:
    """The fake backend classes by role, for assertions."""
    return {
        "sync": FakeSyncBackend,
        "anyio": FakeAnyIOBackend,
        "trio": FakeTrioBackend,
        "thirdparty": FakeThirdPartyBackend,
        "thirdparty2": FakeOtherThirdPartyBackend,
        "mock": FakeMockBackend,
    }
