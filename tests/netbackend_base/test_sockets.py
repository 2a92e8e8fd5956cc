"""The library-free socket helpers that every backend builds its connect on."""

from __future__ import annotations

import errno
import socket
import typing

import pytest

from netbackend_base import (
    HAPPY_EYEBALLS_DELAY,
    connect_socket,
    interleave_targets,
    new_socket,
    numeric_targets,
    targets_from_addrinfo,
)


def _info(family: int, host: str, port: int = 80) -> tuple[typing.Any, ...]:
    sockaddr = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    return (family, socket.SOCK_STREAM, 6, "", sockaddr)


def test_addrinfo_puts_ipv6_first_and_alternates_families() -> None:
    """Addresses alternate families starting with IPv6, keeping the resolver's order within one."""
    infos = [
        _info(socket.AF_INET, "10.0.0.1"),
        _info(socket.AF_INET, "10.0.0.2"),
        _info(socket.AF_INET, "10.0.0.3"),
        _info(socket.AF_INET6, "fd00::1"),
        _info(socket.AF_INET6, "fd00::2"),
    ]
    hosts = [sockaddr[0] for _family, sockaddr in targets_from_addrinfo(infos)]
    assert hosts == ["fd00::1", "10.0.0.1", "fd00::2", "10.0.0.2", "10.0.0.3"]


def test_addrinfo_drops_repeats_and_other_families() -> None:
    """An address listed twice is kept once, and non-IP families are dropped."""
    infos = [
        _info(socket.AF_INET, "10.0.0.1"),
        _info(socket.AF_INET, "10.0.0.1"),
        (socket.AF_UNIX, socket.SOCK_STREAM, 0, "", "/tmp/x"),
    ]
    assert targets_from_addrinfo(infos) == [(socket.AF_INET, ("10.0.0.1", 80))]


def test_interleave_with_one_family_keeps_order() -> None:
    """With a single family, interleaving changes nothing."""
    targets = [(socket.AF_INET, ("10.0.0.2", 1)), (socket.AF_INET, ("10.0.0.1", 1))]
    assert interleave_targets(targets) == targets


def test_numeric_targets() -> None:
    """IP literals become one target of the right family; names give None."""
    assert numeric_targets("127.0.0.1", 80) == [(socket.AF_INET, ("127.0.0.1", 80))]
    assert numeric_targets("::1", 443) == [(socket.AF_INET6, ("::1", 443, 0, 0))]
    assert numeric_targets("fe80::1%1", 443) == [(socket.AF_INET6, ("fe80::1", 443, 0, 1))]
    assert numeric_targets("localhost", 80) is None


def test_happy_eyeballs_delay_is_rfc_8305s_recommendation() -> None:
    """The attempt delay is the 250 ms that RFC 8305 section 5 recommends."""
    assert HAPPY_EYEBALLS_DELAY == 0.25


def test_new_socket_sets_nodelay_then_options_then_binds() -> None:
    """TCP_NODELAY is on unless an option turns it off, options apply, and the socket is bound."""
    with new_socket(
        socket.AF_INET, "127.0.0.1", [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    ) as s:
        assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        assert s.getsockname()[0] == "127.0.0.1"
    off = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)]
    with new_socket(socket.AF_INET, socket_options=off) as s:
        assert not s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_new_socket_closes_on_a_bad_option() -> None:
    """A failing option closes the half-made socket before the OSError propagates."""
    created: list[socket.socket] = []

    class Recording(socket.socket):
        def __init__(self, *args: typing.Any) -> None:
            super().__init__(*args)
            created.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "socket", Recording)
        with pytest.raises(OSError):
            new_socket(socket.AF_INET, socket_options=[(socket.SOL_SOCKET, 987654, 1)])
    assert len(created) == 1
    assert created[0].fileno() == -1


@pytest.mark.anyio
async def test_connect_socket_connects_and_reports_refusal() -> None:
    """connect_socket connects a non-blocking socket, and a refused port raises OSError."""
    import anyio

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        sock = await connect_socket(
            (socket.AF_INET, ("127.0.0.1", port)), None, (), anyio.wait_writable
        )
        with sock:
            assert not sock.getblocking()
            assert sock.getpeername() == ("127.0.0.1", port)
    with pytest.raises(OSError) as info:
        await connect_socket((socket.AF_INET, ("127.0.0.1", port)), None, (), anyio.wait_writable)
    assert info.value.errno == errno.ECONNREFUSED
