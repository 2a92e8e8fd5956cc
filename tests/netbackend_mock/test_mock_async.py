"""The async mock backend on asyncio and trio: the same behaviour as the blocking one."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import anyio
import pytest

import netbackend_base
from netbackend_mock import (
    AsyncMockBackend,
    AsyncMockStream,
    ConnectCall,
    MockSSLObject,
    StartTLSCall,
)

pytestmark = pytest.mark.anyio

RESPONSE = [b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n\r\n", b"ok"]


async def test_classes_implement_the_interface() -> None:
    """AsyncMockBackend and its streams subclass the async interface classes."""
    assert issubclass(AsyncMockBackend, netbackend_base.AsyncNetworkBackend)
    assert issubclass(AsyncMockStream, netbackend_base.AsyncNetworkStream)
    stream = await AsyncMockBackend([]).connect_tcp("example.com", 80)
    assert isinstance(stream, netbackend_base.AsyncNetworkStream)


async def test_reads_replay_the_script_then_eof() -> None:
    """Each read returns the next chunk, then b"" once the script is used up."""
    stream = await AsyncMockBackend(list(RESPONSE)).connect_tcp("example.com", 80)
    assert [await stream.read(1024) for _ in range(5)] == [*RESPONSE, b"", b""]


async def test_read_splits_a_chunk_longer_than_max_bytes() -> None:
    """A chunk longer than max_bytes is returned in max_bytes pieces, in order."""
    stream = AsyncMockStream([b"abcde", b"f"])
    assert [await stream.read(2) for _ in range(5)] == [b"ab", b"cd", b"e", b"f", b""]


async def test_read_rejects_max_bytes_below_one() -> None:
    """read(0) raises ValueError rather than faking EOF."""
    with pytest.raises(ValueError, match="max_bytes"):
        await AsyncMockStream([b"x"]).read(0)


async def test_each_connection_replays_its_own_copy_by_default() -> None:
    """Without shared=True every connection reads the whole script from the start."""
    script = list(RESPONSE)
    backend = AsyncMockBackend(script)
    first = await backend.connect_tcp("example.com", 80)
    second = await backend.connect_unix_socket("/tmp/sock")
    assert await first.read(1024) == RESPONSE[0]
    assert await second.read(1024) == RESPONSE[0]
    assert script == RESPONSE


async def test_shared_connections_consume_one_script_in_order() -> None:
    """With shared=True the second connection continues where the first stopped."""
    backend = AsyncMockBackend([b"first", b"second"], shared=True)
    first = await backend.connect_tcp("example.com", 80)
    assert await first.read(1024) == b"first"
    second = await backend.connect_tcp("example.com", 80)
    assert await second.read(1024) == b"second"
    assert await first.read(1024) == b""


async def test_writes_are_recorded_in_order() -> None:
    """write() records each non-empty buffer; empty writes are no-ops."""
    stream = await AsyncMockBackend([]).connect_tcp("example.com", 80)
    await stream.write(b"ab")
    await stream.write(b"")
    await stream.write(b"cd")
    assert stream.written == [b"ab", b"cd"]
    assert stream.data_written == b"abcd"


async def test_read_and_write_after_aclose_raise() -> None:
    """After aclose() reads raise ReadError and writes WriteError; aclose twice is harmless."""
    stream = AsyncMockStream([b"left over"])
    await stream.aclose()
    await stream.aclose()
    assert stream.closed
    with pytest.raises(netbackend_base.ReadError):
        await stream.read(10)
    with pytest.raises(netbackend_base.WriteError):
        await stream.write(b"late")


async def test_start_tls_returns_the_stream_and_records_its_arguments() -> None:
    """start_tls returns the same stream and records context, hostname and timeout."""
    context = ssl.create_default_context()
    stream = await AsyncMockBackend([b"x"]).connect_tcp("example.com", 443)
    tls = await stream.start_tls(context, server_hostname="example.com", timeout=1.5)
    assert tls is stream
    assert stream.tls_calls == [StartTLSCall(context, "example.com", 1.5)]
    assert stream.ssl_context is context
    assert stream.server_hostname == "example.com"
    assert await tls.read(10) == b"x"


async def test_start_tls_on_closed_stream_raises_connect_error() -> None:
    """start_tls on a closed stream raises ConnectError."""
    stream = AsyncMockStream([])
    await stream.aclose()
    with pytest.raises(netbackend_base.ConnectError):
        await stream.start_tls(ssl.create_default_context())


@pytest.mark.parametrize(("http2", "alpn"), [(True, "h2"), (False, None)])
async def test_ssl_object_reports_alpn(http2: bool, alpn: str | None) -> None:
    """ssl_object exists on plain streams and reports "h2" exactly when http2=True."""
    stream = await AsyncMockBackend([], http2=http2).connect_tcp("example.com", 80)
    ssl_object = stream.get_extra_info("ssl_object")
    assert isinstance(ssl_object, MockSSLObject)
    assert ssl_object.selected_alpn_protocol() == alpn


async def test_extra_info_keys() -> None:
    """is_readable is False, addresses follow the connect call, socket is None."""
    backend = AsyncMockBackend([b"pending"])
    tcp = await backend.connect_tcp("example.com", 8443, local_address="127.0.0.2")
    unix = await backend.connect_unix_socket("/run/app.sock")
    assert tcp.get_extra_info("is_readable") is False
    assert tcp.get_extra_info("server_addr") == ("example.com", 8443)
    assert tcp.get_extra_info("client_addr")[0] == "127.0.0.2"
    assert unix.get_extra_info("server_addr") == "/run/app.sock"
    assert unix.get_extra_info("client_addr") == ""
    assert tcp.get_extra_info("socket") is None
    assert tcp.get_extra_info("no-such-key") is None


async def test_backend_records_connect_arguments() -> None:
    """Both connect methods record their arguments next to the streams they opened."""
    backend = AsyncMockBackend([])
    option = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tcp = await backend.connect_tcp(
        "example.com", 80, timeout=4.0, local_address="127.0.0.1", socket_options=[option]
    )
    unix = await backend.connect_unix_socket("/tmp/s", timeout=0.5, socket_options=[option])
    assert backend.streams == [tcp, unix]
    assert backend.connect_calls == [
        ConnectCall("tcp", "example.com", 80, None, 4.0, "127.0.0.1", (option,)),
        ConnectCall("unix", path="/tmp/s", timeout=0.5, socket_options=(option,)),
    ]


async def test_sleep_returns_at_once_and_is_recorded() -> None:
    """sleep() records the duration and returns without waiting it out."""
    backend = AsyncMockBackend([])
    await backend.sleep(3600)
    assert backend.sleeps == [3600]


async def test_sleep_can_be_cancelled() -> None:
    """A cancelled scope around sleep() cancels it, since it checkpoints."""

    backend = AsyncMockBackend([])
    with anyio.CancelScope() as scope:
        scope.cancel()
        await backend.sleep(10)
        pytest.fail("sleep() did not checkpoint")  # pragma: no cover
    assert scope.cancelled_caught


async def test_resolve_is_real_and_records_no_sleeps() -> None:
    """resolve() is not mocked: it asks the system resolver and leaves sleeps alone."""
    backend = AsyncMockBackend([])
    addresses = await backend.resolve("localhost", timeout=5)
    assert addresses
    assert all(ipaddress.ip_address(address).is_loopback for address in addresses)
    assert await backend.resolve("::1") == ["::1"]
    assert backend.sleeps == []
    assert backend.connect_calls == []
