"""Plain TCP and Unix-socket streams: data, EOF, large transfers, closing, extra info."""

from __future__ import annotations

import hashlib
import select
import socket
import struct
import typing

import pytest

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from collections.abc import Callable

    from netbackend_base.testing.harness import Net, Stream
    from netbackend_base.testing.servers import ThreadedServer


async def test_tcp_echo(net: Net, tcp_echo: ThreadedServer) -> None:
    """Bytes written to a TCP stream come back from an echo server unchanged."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    for message in (b"hello", b"\x00\xff" * 1000, b"x"):
        await stream.write(message, timeout=5)
        assert await stream.read_exactly(len(message), timeout=5) == message
    await stream.close()


async def test_unix_echo(net: Net, unix_echo: ThreadedServer) -> None:
    """Bytes written to a Unix-socket stream come back from an echo server unchanged."""
    stream = await net.connect_unix_socket(unix_echo.address, timeout=5)
    await stream.write(b"over a unix socket", timeout=5)
    assert await stream.read_exactly(18, timeout=5) == b"over a unix socket"
    await stream.close()


async def test_empty_write_is_noop(net: Net, tcp_echo: ThreadedServer) -> None:
    """Writing b"" sends nothing and the stream keeps working."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    await stream.write(b"", timeout=5)
    await stream.write(b"after", timeout=5)
    assert await stream.read_exactly(5, timeout=5) == b"after"
    await stream.close()


async def test_read_respects_max_bytes(net: Net, tcp_echo: ThreadedServer) -> None:
    """read(n) never returns more than n bytes even when more are waiting."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    await stream.write(b"0123456789", timeout=5)
    received = b""
    while len(received) < 10:
        chunk = await stream.read(3, timeout=5)
        assert 1 <= len(chunk) <= 3
        received += chunk
    assert received == b"0123456789"
    await stream.close()


async def test_eof_after_peer_closes(net: Net, silent_server: ThreadedServer) -> None:
    """read() returns b"" once the peer has closed its side of a TCP connection."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    silent_server.next_connection().close()
    assert await stream.read(1024, timeout=5) == b""
    await stream.close()


async def test_unix_eof_after_peer_closes(net: Net, unix_echo: ThreadedServer) -> None:
    """read() returns b"" once the server side of a Unix-socket connection is closed."""
    stream = await net.connect_unix_socket(unix_echo.address, timeout=5)
    unix_echo.next_connection()
    unix_echo.close_connections()
    assert await stream.read(1024, timeout=5) == b""
    await stream.close()


async def upload(stream: Stream, data: bytes) -> bytes:
    """Send ``data`` in one write() through the bulk protocol; return the server's digest."""
    await stream.write(struct.pack("!cQ", b"U", len(data)) + data, timeout=30)
    return await stream.read_exactly(32, timeout=30)


async def download(stream: Stream, length: int) -> bytes:
    await stream.write(struct.pack("!cQ", b"D", length), timeout=30)
    return await stream.read_exactly(length, timeout=30)


@pytest.mark.slow
async def test_16mib_over_tcp(net: Net, tcp_bulk: ThreadedServer, payload: bytes) -> None:
    """16 MiB arrive intact in both directions over TCP, sent by a single write()."""
    stream = await net.connect_tcp(tcp_bulk.host, tcp_bulk.port, timeout=5)
    assert await upload(stream, payload) == hashlib.sha256(payload).digest()
    received = await download(stream, len(payload))
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    await stream.close()


async def test_close_twice_is_harmless(net: Net, tcp_echo: ThreadedServer) -> None:
    """Closing a TCP stream a second time neither raises nor blocks."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    await stream.close()
    await stream.close()


async def test_close_releases_the_socket(
    net: Net, tcp_echo: ThreadedServer, open_fds: Callable[[], int]
) -> None:
    """After close() the connection is gone: the server sees EOF and no descriptor is left."""
    warm = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    # connect can return before the server thread accepted; wait_idle needs it accepted.
    tcp_echo.next_connection()
    await warm.close()
    assert tcp_echo.wait_idle(), "the server never saw the warm-up connection close"
    before = open_fds()
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    await stream.write(b"ping", timeout=5)
    assert await stream.read_exactly(4, timeout=5) == b"ping"
    await stream.close()
    assert tcp_echo.wait_idle(), "the server never saw the connection close"
    assert open_fds() == before


async def test_unix_close_releases_the_socket(
    net: Net, unix_echo: ThreadedServer, open_fds: Callable[[], int]
) -> None:
    """After close() of a Unix-socket stream the server sees EOF and no descriptor is left."""
    before = open_fds()
    stream = await net.connect_unix_socket(unix_echo.address, timeout=5)
    await stream.write(b"ping", timeout=5)
    assert await stream.read_exactly(4, timeout=5) == b"ping"
    await stream.close()
    await stream.close()
    assert unix_echo.wait_idle(), "the server never saw the connection close"
    assert open_fds() == before


def wait_readable(sock: socket.socket) -> None:
    # Waits on the kernel, not on the backend: once this returns the FIN has arrived, so
    # a correct is_readable must say True with no further waiting.
    readable, _, _ = select.select([sock], [], [], 10)
    assert readable, "the peer's close never reached the client socket"


async def test_is_readable_turns_true_when_peer_closes(
    net: Net, silent_server: ThreadedServer
) -> None:
    """is_readable is False on an idle connection and True once the peer has closed it."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    server_side = silent_server.next_connection()
    assert stream.get_extra_info("is_readable") is False
    server_side.close()
    wait_readable(stream.get_extra_info("socket"))
    assert stream.get_extra_info("is_readable") is True
    await stream.close()


async def test_is_readable_when_data_waits(net: Net, tcp_echo: ThreadedServer) -> None:
    """is_readable is True while received bytes wait to be read, False once they are read."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    await stream.write(b"z", timeout=5)
    wait_readable(stream.get_extra_info("socket"))
    assert stream.get_extra_info("is_readable") is True
    assert await stream.read(1, timeout=5) == b"z"
    assert stream.get_extra_info("is_readable") is False
    await stream.close()


async def test_tcp_extra_info(net: Net, tcp_echo: ThreadedServer) -> None:
    """A TCP stream reports its addresses, its socket, no TLS object, and None for unknown keys."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    sock = stream.get_extra_info("socket")
    assert isinstance(sock, socket.socket), f"socket extra is {type(sock)!r}"
    assert sock.family == socket.AF_INET
    assert tuple(stream.get_extra_info("server_addr")) == ("127.0.0.1", tcp_echo.port)
    client_addr = stream.get_extra_info("client_addr")
    assert tuple(client_addr) == sock.getsockname()
    assert client_addr[0] == "127.0.0.1"
    assert sock.getpeername() == ("127.0.0.1", tcp_echo.port)
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("no-such-key") is None
    assert stream.get_extra_info("is_readable") is False
    await stream.close()


async def test_tcp_nodelay_is_on(net: Net, tcp_echo: ThreadedServer) -> None:
    """A TCP stream's socket has TCP_NODELAY set."""
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    sock = stream.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    await stream.close()


async def test_unix_extra_info(net: Net, unix_echo: ThreadedServer) -> None:
    """A Unix-socket stream reports the socket path as server_addr and an AF_UNIX socket."""
    stream = await net.connect_unix_socket(unix_echo.address, timeout=5)
    sock = stream.get_extra_info("socket")
    assert isinstance(sock, socket.socket), f"socket extra is {type(sock)!r}"
    assert sock.family == socket.AF_UNIX
    assert stream.get_extra_info("server_addr") == unix_echo.address
    assert isinstance(stream.get_extra_info("client_addr"), str)
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("no-such-key") is None
    await stream.close()


async def test_local_address_is_bound(net: Net, tcp_echo: ThreadedServer) -> None:
    """connect_tcp(local_address=...) binds the client side to that address."""
    stream = await net.connect_tcp(
        tcp_echo.host, tcp_echo.port, timeout=5, local_address="127.0.0.1"
    )
    assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
    await stream.write(b"bound", timeout=5)
    assert await stream.read_exactly(5, timeout=5) == b"bound"
    await stream.close()
