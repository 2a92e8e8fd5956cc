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


def test_socket_info_answers_the_socket_keys() -> None:
    """socket, client_addr and server_addr as (host, port); None for others and when closed."""
    from netbackend_base import socket_info

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            assert socket_info(client, "socket") is client
            assert socket_info(client, "server_addr") == ("127.0.0.1", port)
            assert socket_info(client, "client_addr") == client.getsockname()
            assert socket_info(client, "ssl_object") is None
            client.close()
            assert socket_info(client, "server_addr") is None


def test_socket_info_trims_ipv6_addresses_to_host_and_port() -> None:
    from netbackend_base import socket_info

    if not socket.has_ipv6:  # pragma: no cover
        pytest.skip("no IPv6")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:  # pragma: no cover - IPv6 disabled
        pytest.skip("no ::1")
    with listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("::1", port)) as client:
            assert socket_info(client, "server_addr") == ("::1", port)


def test_poll_readable_tells_data_eof_and_closed_apart_from_idle() -> None:
    from netbackend_base import poll_readable

    left, right = socket.socketpair()
    with left, right:
        assert poll_readable(left) is False
        right.sendall(b"x")
        assert poll_readable(left) is True
        assert left.recv(1) == b"x"
        assert poll_readable(left) is False
        right.close()
        assert poll_readable(left) is True  # the peer's EOF
        left.close()
        assert poll_readable(left) is True  # closed: a read would not block
