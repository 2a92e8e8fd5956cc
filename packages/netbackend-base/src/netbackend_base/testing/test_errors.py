"""Timeouts and failures map to exactly the netbackend_base exceptions."""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time
import typing

import pytest

from netbackend_base import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from netbackend_base.testing.harness import Net
    from netbackend_base.testing.servers import NeverAccepts, ThreadedServer, TLSServer

TIMEOUT = 0.2
# A timeout must fire no earlier than asked and not much later; generous for busy CI.
LATE = 2.0


def check_duration(started: float) -> None:
    took = time.monotonic() - started
    assert took >= TIMEOUT * 0.9, f"the timeout fired after {took:.3f}s, before {TIMEOUT}s"
    assert took < TIMEOUT + LATE, f"a {TIMEOUT}s timeout took {took:.3f}s"


async def test_connect_timeout(net: Net, never_accepts: NeverAccepts) -> None:
    """A TCP connect that gets no answer raises ConnectTimeout after the timeout."""
    started = time.monotonic()
    with net.raises_exactly(ConnectTimeout):
        await net.connect_tcp(never_accepts.host, never_accepts.port, timeout=TIMEOUT)
    check_duration(started)


async def test_read_timeout(net: Net, silent_server: ThreadedServer) -> None:
    """A read that gets no data raises ReadTimeout after the timeout."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    started = time.monotonic()
    with net.raises_exactly(ReadTimeout):
        await stream.read(1024, timeout=TIMEOUT)
    check_duration(started)
    await stream.close()


async def test_tls_read_timeout(
    net: Net, tls_echo: TLSServer, client_context: ssl.SSLContext
) -> None:
    """A read on a TLS stream that gets no data raises ReadTimeout after the timeout."""
    plain = await net.connect_tcp(tls_echo.host, tls_echo.port, timeout=5)
    stream = await plain.start_tls(client_context, server_hostname="localhost", timeout=5)
    started = time.monotonic()
    with net.raises_exactly(ReadTimeout):
        await stream.read(1024, timeout=TIMEOUT)
    check_duration(started)
    await stream.close()


async def test_write_timeout(net: Net, silent_server: ThreadedServer) -> None:
    """A write the peer never drains raises WriteTimeout after the timeout."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    # Far more than the kernel buffers on both ends can hold while nobody reads.
    big = bytes(16 * 1024 * 1024)
    started = time.monotonic()
    with net.raises_exactly(WriteTimeout):
        await stream.write(big, timeout=TIMEOUT)
    check_duration(started)
    await stream.close()


async def test_tls_handshake_timeout(
    net: Net, silent_server: ThreadedServer, client_context: ssl.SSLContext
) -> None:
    """A TLS handshake the server never answers raises ConnectTimeout after the timeout."""
    plain = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    started = time.monotonic()
    with net.raises_exactly(ConnectTimeout):
        await plain.start_tls(client_context, server_hostname="localhost", timeout=TIMEOUT)
    check_duration(started)


async def test_refused_port_is_connect_error(net: Net, refused_port: int) -> None:
    """Connecting to a port nobody listens on raises ConnectError."""
    with net.raises_exactly(ConnectError):
        await net.connect_tcp("127.0.0.1", refused_port, timeout=5)


async def test_missing_unix_socket_is_connect_error(net: Net, unix_path: str) -> None:
    """Connecting to a Unix socket path that does not exist raises ConnectError."""
    with net.raises_exactly(ConnectError):
        await net.connect_unix_socket(unix_path, timeout=5)


async def test_unresolvable_host_is_connect_error(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host name that fails to resolve raises ConnectError, not socket.gaierror."""
    real_getaddrinfo = socket.getaddrinfo

    def failing_getaddrinfo(
        host: typing.Any, *args: typing.Any, **kwargs: typing.Any
    ) -> typing.Any:
        # Answered here so that no query ever leaves the machine.
        if host in ("no-such-host.invalid", b"no-such-host.invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", failing_getaddrinfo)
    with net.raises_exactly(ConnectError):
        await net.connect_tcp("no-such-host.invalid", 80, timeout=5)


async def test_unencodable_host_is_connect_error(net: Net) -> None:
    """A host name with a label over 63 characters (no IDNA encoding exists) raises
    ConnectError, not UnicodeError, and asks no resolver."""
    with net.raises_exactly(ConnectError):
        await net.connect_tcp("a" * 64 + ".example", 80, timeout=5)


async def test_unknown_ipv6_zone_is_connect_error(net: Net) -> None:
    """An IPv6 literal whose zone names no network interface raises ConnectError, not
    OSError."""
    with net.raises_exactly(ConnectError):
        await net.connect_tcp("fe80::1%nosuchif", 80, timeout=5)


def reset(server_side: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send a reset instead of a FIN.
    server_side.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server_side.close()


async def test_read_after_reset_is_read_error(net: Net, silent_server: ThreadedServer) -> None:
    """A read on a connection the peer reset raises ReadError, not ConnectionResetError."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    reset(silent_server.next_connection())
    # Wait for the reset to reach the client socket so the read cannot race it.
    readable, _, _ = select.select([stream.get_extra_info("socket")], [], [], 10)
    assert readable
    with net.raises_exactly(ReadError):
        await stream.read(1024, timeout=5)
    await stream.close()


async def test_write_after_reset_is_write_error(net: Net, silent_server: ThreadedServer) -> None:
    """Writing to a connection the peer reset raises WriteError, not an OSError."""
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    reset(silent_server.next_connection())
    readable, _, _ = select.select([stream.get_extra_info("socket")], [], [], 10)
    assert readable
    with net.raises_exactly(WriteError):
        # A buffered backend may accept the first write and report the failure on the
        # next one; a few are enough to reach the broken socket.
        for _ in range(5):
            await stream.write(b"x" * 65536, timeout=5)
    await stream.close()
