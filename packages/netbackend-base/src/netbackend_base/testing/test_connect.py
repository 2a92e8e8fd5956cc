"""How connect_tcp opens its socket: Happy Eyeballs and socket options."""

from __future__ import annotations

import socket
import sys
import time
import typing

import pytest

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from netbackend_base.testing.harness import Net
    from netbackend_base.testing.servers import DualStack, ThreadedServer

# Happy Eyeballs (RFC 8305) starts the next address after about 250 ms; a backend that
# waits for the first address to time out takes the whole 3 s connect timeout.
HAPPY_EYEBALLS_LIMIT = 1.0


async def test_happy_eyeballs_falls_back_to_ipv4(net: Net, dual_stack: DualStack) -> None:
    """A name resolving to a hanging ::1 then a live 127.0.0.1 connects quickly over IPv4."""
    started = time.monotonic()
    stream = await net.connect_tcp(dual_stack.host, dual_stack.port, timeout=3)
    took = time.monotonic() - started
    assert tuple(stream.get_extra_info("server_addr")) == ("127.0.0.1", dual_stack.port)
    await stream.write(b"dual", timeout=5)
    assert await stream.read_exactly(4, timeout=5) == b"dual"
    await stream.close()
    assert took < HAPPY_EYEBALLS_LIMIT, f"connecting took {took:.2f}s"


def kernel_value(level: int, name: int, value: int) -> int:
    # The kernel may adjust what it stores (Linux doubles buffer sizes): ask a fresh
    # socket what this setting reads back as.
    with socket.socket() as probe:
        probe.setsockopt(level, name, value)
        return probe.getsockopt(level, name)


async def test_socket_options_are_applied(net: Net, tcp_echo: ThreadedServer) -> None:
    """socket_options reach the TCP socket, and TCP_NODELAY stays on."""
    options = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)]
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5, socket_options=options)
    sock = stream.get_extra_info("socket")
    expected = kernel_value(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == expected
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    await stream.write(b"opts", timeout=5)
    assert await stream.read_exactly(4, timeout=5) == b"opts"
    await stream.close()


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the peer's MSS the Linux way"
)
async def test_socket_options_are_applied_before_connect(
    net: Net, silent_server: ThreadedServer
) -> None:
    """socket_options are set before connect(): a TCP_MAXSEG shows in the SYN the server saw."""
    # The MSS is announced in the SYN, so only a value set before connect() reaches the
    # server; set afterwards it changes nothing the server can see.
    options = [(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)]
    stream = await net.connect_tcp(
        silent_server.host, silent_server.port, timeout=5, socket_options=options
    )
    server_side = silent_server.next_connection()
    assert server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) <= 536
    await stream.close()


async def test_unix_socket_options_are_applied(net: Net, unix_echo: ThreadedServer) -> None:
    """socket_options reach a Unix socket too."""
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)]
    stream = await net.connect_unix_socket(unix_echo.address, timeout=5, socket_options=options)
    sock = stream.get_extra_info("socket")
    expected = kernel_value(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == expected
    await stream.close()
