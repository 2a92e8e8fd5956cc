"""resolve(): host names to IP address strings, literals without a lookup, exact errors.

Apart from "localhost" (the hosts file), every name asked here is answered by a patched
``socket.getaddrinfo``, so no query leaves the machine: a resolver that drops a query
makes glibc retry only after 5 s, which a real ``.invalid`` lookup here does in a few
percent of tries.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import typing
from collections.abc import Iterator

import pytest

from netbackend_base import ConnectError, ConnectTimeout

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from netbackend_base.testing.harness import Net

TIMEOUT = 5.0
SLOW_TIMEOUT = 0.2
# A timeout must fire no earlier than asked and not much later; generous for busy CI.
LATE = 2.0
REPEATS = "repeats.test"
SLOW = "slow.test"


class FakeResolver:
    """Stands in for ``socket.getaddrinfo``; records every host asked.

    * names under ``.invalid`` (RFC 6761) fail as the system resolver fails them;
    * ``repeats.test`` answers ``::1``, ``127.0.0.1`` and repeats of both;
    * ``slow.test`` does not answer until :meth:`release`;
    * anything else goes to the real ``getaddrinfo``.
    """

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.released = threading.Event()
        self._real = socket.getaddrinfo

    def release(self) -> None:
        self.released.set()

    def getaddrinfo(
        self,
        host: typing.Any,
        port: typing.Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[typing.Any, ...]]:
        text = host.decode("ascii") if isinstance(host, bytes) else str(host)
        self.asked.append(text)
        # A numeric-only lookup of a name fails for real; trio relies on that.
        if flags & socket.AI_NUMERICHOST:
            return self._real(host, port, family, type, proto, flags)
        if text.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if text == SLOW:
            # Bounded, so a backend that never gives up cannot hang the run.
            self.released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if text == REPEATS:
            number = int(port or 0)
            v6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", number, 0, 0))
            v4 = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", number))
            return [entry for entry in (v6, v4, v4, v6) if family in (0, entry[0])]
        return self._real(host, port, family, type, proto, flags)


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResolver]:
    """The patched ``socket.getaddrinfo``; a held-back lookup is released at teardown."""
    fake = FakeResolver()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    try:
        yield fake
    finally:
        fake.release()


async def test_localhost_resolves_to_loopback(net: Net) -> None:
    """The name "localhost" resolves to loopback addresses only (127.x or ::1), each once."""
    addresses = await net.resolve("localhost", timeout=TIMEOUT)
    assert addresses
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses), addresses


async def test_inet_family_gives_only_ipv4(net: Net) -> None:
    """family=AF_INET restricts the answer to IPv4 addresses."""
    addresses = await net.resolve("localhost", socket.AF_INET, timeout=TIMEOUT)
    assert addresses
    assert all(ipaddress.ip_address(address).version == 4 for address in addresses), addresses


async def test_answer_keeps_order_and_drops_repeats(net: Net, resolver: FakeResolver) -> None:
    """The answer keeps the resolver's order and lists each address once."""
    assert await net.resolve(REPEATS, timeout=TIMEOUT) == ["::1", "127.0.0.1"]


@pytest.mark.parametrize(
    ("family", "expected"),
    [(socket.AF_INET, ["127.0.0.1"]), (socket.AF_INET6, ["::1"])],
    ids=["inet", "inet6"],
)
async def test_family_restricts_the_answer(
    net: Net, resolver: FakeResolver, family: int, expected: list[str]
) -> None:
    """A name with addresses of both families gives only those of the family asked for."""
    assert await net.resolve(REPEATS, family, timeout=TIMEOUT) == expected


@pytest.mark.parametrize("literal", ["127.0.0.1", "::1"])
async def test_ip_literal_comes_back_without_lookup(
    net: Net, resolver: FakeResolver, literal: str
) -> None:
    """An IP literal comes back as itself, and the resolver is never asked."""
    assert await net.resolve(literal, timeout=TIMEOUT) == [literal]
    assert resolver.asked == []


@pytest.mark.parametrize(
    ("literal", "family"),
    [("127.0.0.1", socket.AF_INET6), ("::1", socket.AF_INET)],
    ids=["ipv4-as-inet6", "ipv6-as-inet"],
)
async def test_ip_literal_outside_family_is_connect_error(
    net: Net, resolver: FakeResolver, literal: str, family: int
) -> None:
    """An IP literal of the other family than the one asked for raises ConnectError."""
    with net.raises_exactly(ConnectError) as caught:
        await net.resolve(literal, family, timeout=TIMEOUT)
    assert literal in str(caught.value)
    assert resolver.asked == []


async def test_unresolvable_name_is_connect_error(net: Net, resolver: FakeResolver) -> None:
    """A name that does not resolve raises ConnectError naming it, not socket.gaierror."""
    with net.raises_exactly(ConnectError) as caught:
        await net.resolve("nosuch.invalid", timeout=TIMEOUT)
    assert "nosuch.invalid" in str(caught.value)


async def test_overlong_label_is_connect_error(net: Net, resolver: FakeResolver) -> None:
    """A 64-character label raises ConnectError, not the IDNA codec's UnicodeError."""
    host = "a" * 64 + ".invalid"
    with net.raises_exactly(ConnectError) as caught:
        await net.resolve(host, timeout=TIMEOUT)
    assert host in str(caught.value)


async def test_slow_lookup_is_connect_timeout(net: Net, resolver: FakeResolver) -> None:
    """A lookup that outlives the timeout raises ConnectTimeout, at about the timeout."""
    started = time.monotonic()
    try:
        with net.raises_exactly(ConnectTimeout) as caught:
            await net.resolve(SLOW, timeout=SLOW_TIMEOUT)
        took = time.monotonic() - started
    finally:
        # Now, not at teardown: asyncio's loop waits for its resolver thread on closing.
        resolver.release()
    assert SLOW in str(caught.value)
    assert took >= SLOW_TIMEOUT * 0.9, f"the timeout fired after {took:.3f}s"
    assert took < SLOW_TIMEOUT + LATE, f"a {SLOW_TIMEOUT}s timeout took {took:.3f}s"


async def test_unsupported_family_is_value_error(net: Net) -> None:
    """A family other than AF_UNSPEC, AF_INET and AF_INET6 is a ValueError."""
    with net.raises_exactly(ValueError):
        await net.resolve("localhost", socket.AF_UNIX, timeout=TIMEOUT)
