"""Name resolution: the shared steps (Resolution) and the interface's two default lookups."""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import typing
from collections.abc import Iterator

import anyio
import pytest

import netbackend_base._resolve
from netbackend_base import (
    AsyncNetworkBackend,
    ConnectError,
    ConnectTimeout,
    NetworkBackend,
    Resolution,
)

BLOCKED = "blocked.test"


def _info(family: int, host: str) -> tuple[typing.Any, ...]:
    sockaddr = (host, 0, 0, 0) if family == socket.AF_INET6 else (host, 0)
    return (family, socket.SOCK_STREAM, 6, "", sockaddr)


def _is_loopback(addresses: list[str]) -> bool:
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


# ------------------------------------------------------------------------ Resolution


@pytest.mark.parametrize("literal", ["127.0.0.1", "::1", "fe80::1%1", "::ffff:10.0.0.1"])
def test_literal_is_its_own_answer(literal: str) -> None:
    """An IP literal (IPv6 without brackets, a scope id kept) is the whole answer."""
    assert Resolution(literal).literal == [literal]


@pytest.mark.parametrize(
    ("literal", "family"), [("10.0.0.1", socket.AF_INET6), ("fd00::1", socket.AF_INET)]
)
def test_literal_outside_family_is_connect_error(literal: str, family: int) -> None:
    """A literal of the other family raises ConnectError naming it."""
    with pytest.raises(ConnectError, match=literal):
        Resolution(literal, family)


def test_bracketed_ipv6_is_a_name() -> None:
    """A bracketed IPv6 address is not a literal: it goes to the resolver (which refuses it)."""
    assert Resolution("[::1]").literal is None


def test_unsupported_family_is_value_error() -> None:
    """A family other than AF_UNSPEC, AF_INET and AF_INET6 is a ValueError."""
    with pytest.raises(ValueError, match="family"):
        Resolution("localhost", socket.AF_UNIX)


@pytest.mark.parametrize("host", ["a" * 64, "a" * 64 + ".example", "a..example", "."])
def test_unencodable_name_is_connect_error(host: str) -> None:
    """An empty label or one over 63 characters raises ConnectError from the UnicodeError."""
    with pytest.raises(ConnectError, match=re.escape(repr(host))) as info:
        Resolution(host)
    assert type(info.value) is ConnectError
    assert isinstance(info.value.__cause__, UnicodeError)


def test_name_is_encoded_as_getaddrinfo_encodes_it() -> None:
    """Names are IDNA 2003-encoded, as socket.getaddrinfo encodes a str (so "ß" is "ss")."""
    assert Resolution("bücher.example").name == "xn--bcher-kva.example"
    assert Resolution("faß.example").name == "fass.example"
    assert Resolution("Example.ORG.").name == "Example.ORG."


def test_addresses_keep_order_and_drop_repeats() -> None:
    """Each address is kept once, in the resolver's order; non-IP families are dropped."""
    infos = [
        _info(socket.AF_INET6, "fd00::2"),
        _info(socket.AF_INET, "10.0.0.1"),
        _info(socket.AF_INET6, "fd00::2"),
        (socket.AF_UNIX, socket.SOCK_STREAM, 0, "", "/tmp/x"),
        _info(socket.AF_INET, "10.0.0.1"),
        _info(socket.AF_INET6, "fd00::1"),
    ]
    assert Resolution("x.test").addresses(infos) == ["fd00::2", "10.0.0.1", "fd00::1"]


def test_addresses_keep_only_the_family_asked_for() -> None:
    """With a family given, addresses of the other family are dropped even if answered."""
    infos = [_info(socket.AF_INET6, "fd00::1"), _info(socket.AF_INET, "10.0.0.1")]
    assert Resolution("x.test", socket.AF_INET).addresses(infos) == ["10.0.0.1"]


def test_no_address_is_connect_error() -> None:
    """An answer without an address of the family raises ConnectError naming the host."""
    infos = [_info(socket.AF_INET, "10.0.0.1")]
    with pytest.raises(ConnectError, match=r"'x\.test'.*IPv6"):
        Resolution("x.test", socket.AF_INET6).addresses(infos)


def test_errors_maps_lookup_failures() -> None:
    """gaierror and UnicodeError become ConnectError, TimeoutError ConnectTimeout, with causes."""
    resolution = Resolution("x.test", timeout=1.5)
    for raised, expected in [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), ConnectError),
        (UnicodeError("label too long"), ConnectError),
        (OSError("resolver broke"), ConnectError),
        (TimeoutError(), ConnectTimeout),
    ]:
        with pytest.raises(expected, match=r"'x\.test'") as info, resolution.errors():
            raise raised
        assert type(info.value) is expected
        assert info.value.__cause__ is raised


def test_errors_lets_other_exceptions_through() -> None:
    """Exceptions that are no lookup failure (a bug, a cancellation) propagate unchanged."""
    with pytest.raises(KeyError), Resolution("x.test").errors():
        raise KeyError("bug")


# ----------------------------------------------------------------- default lookups


class BlockedLookup:
    """A ``socket.getaddrinfo`` that holds ``blocked.test`` until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host: typing.Any, *args: typing.Any) -> typing.Any:
        if host != BLOCKED:
            return self._real(host, *args)
        self.entered.set()
        self.released.wait(30)  # bounded, so a broken test cannot hang the run
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


@pytest.fixture
def blocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[BlockedLookup]:
    """``blocked.test`` never answers; the lookup thread is released at teardown."""
    lookup = BlockedLookup()
    monkeypatch.setattr(socket, "getaddrinfo", lookup.getaddrinfo)
    try:
        yield lookup
    finally:
        lookup.released.set()


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_blocking_default_resolves_localhost(timeout: float | None) -> None:
    """NetworkBackend's default resolves "localhost" to loopback, with or without a timeout."""
    assert _is_loopback(NetworkBackend().resolve("localhost", timeout=timeout))


def test_blocking_default_honours_the_timeout(blocked: BlockedLookup) -> None:
    """NetworkBackend's default stops waiting for a stuck lookup at the timeout."""
    with pytest.raises(ConnectTimeout, match=BLOCKED):
        NetworkBackend().resolve(BLOCKED, timeout=0.05)
    assert blocked.entered.wait(5), "the lookup never started"


class SleepOnlyBackend(AsyncNetworkBackend):
    """A third-party backend that implements only ``sleep``; ``resolve`` is the default."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await anyio.sleep(seconds)


@pytest.mark.anyio
async def test_async_default_resolves_localhost() -> None:
    """AsyncNetworkBackend's default resolves "localhost" to loopback through sleep alone."""
    assert _is_loopback(await SleepOnlyBackend().resolve("localhost", timeout=5))


class VirtualClockBackend(SleepOnlyBackend):
    """A backend whose sleep advances a virtual clock (the resolver's polls are timed by
    it) instead of waiting, so the poll pattern does not depend on the machine's load."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        self.now = 1000.0
        monkeypatch.setattr(netbackend_base._resolve, "_clock", lambda: self.now)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.sleep(0)


@pytest.mark.anyio
async def test_async_default_honours_the_timeout(
    blocked: BlockedLookup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AsyncNetworkBackend's default gives up on a stuck lookup at the timeout."""
    backend = VirtualClockBackend(monkeypatch)
    with pytest.raises(ConnectTimeout, match=BLOCKED):
        await backend.resolve(BLOCKED, timeout=0.05)
    assert blocked.entered.wait(5), "the lookup never started"
    assert backend.sleeps == pytest.approx([0.001, 0.002, 0.004, 0.008, 0.016, 0.019])
    # No poll reaches past the deadline.
    assert sum(backend.sleeps) == pytest.approx(0.05)


@pytest.mark.anyio
async def test_async_default_polls_at_most_every_50_ms(
    blocked: BlockedLookup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default's polls double from 1 ms and stop growing at 50 ms."""
    backend = VirtualClockBackend(monkeypatch)
    with pytest.raises(ConnectTimeout):
        await backend.resolve(BLOCKED, timeout=0.2)
    expected = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05, 0.037]
    assert backend.sleeps == pytest.approx(expected)


@pytest.mark.anyio
async def test_async_default_propagates_cancellation(blocked: BlockedLookup) -> None:
    """A cancelled call propagates the loop's cancellation, not a netbackend exception."""
    with anyio.move_on_after(0.05) as scope:
        await SleepOnlyBackend().resolve(BLOCKED)
    assert scope.cancelled_caught
