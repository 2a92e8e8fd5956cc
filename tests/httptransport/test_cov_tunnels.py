"""Tunnels through proxies, their failures told apart: a handshake that times out is a
ConnectTimeout, one the proxy breaks a ProxyError, a name SOCKS4 cannot resolve a
ConnectError (or ConnectTimeout); SOCKS4 cannot reach an IPv6 host; a SOCKS5 reply with
an IPv6 bound address is read whole. On the byte-scripted mock backends, blocking
and async."""

from __future__ import annotations

import socket
import typing

import pytest

from httptransport import AsyncConnectionPool, ConnectionPool, ConnectTimeout, Proxy, ProxyError
from netbackend_base import (
    AsyncNetworkStream,
    ConnectError,
    NetworkStream,
    ReadError,
    ReadTimeout,
)
from netbackend_mock import AsyncMockBackend, MockBackend

pytest.importorskip("socksio")

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SOCKS5_NO_AUTH = b"\x05\x00"


class Unreadable(NetworkStream):
    """A proxy connection that takes what is written and fails the first read."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.written = b""
        self.closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        raise self.error

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    def close(self) -> None:
        self.closed = True


class ProxyBackend(MockBackend):
    """The mock backend, whose connections fail their first read with ``read_error``
    (when given) and whose resolver fails with ``resolve_error`` (when given)."""

    def __init__(
        self,
        script: list[bytes],
        read_error: Exception | None = None,
        resolve_error: Exception | None = None,
    ) -> None:
        super().__init__(script)
        self.read_error = read_error
        self.resolve_error = resolve_error
        self.unreadable: list[Unreadable] = []

    def connect_tcp(
        self, host: str, port: int, *args: typing.Any, **kwargs: typing.Any
    ) -> typing.Any:
        if self.read_error is None:
            return super().connect_tcp(host, port, *args, **kwargs)
        stream = Unreadable(self.read_error)
        self.unreadable.append(stream)
        return stream

    def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        if self.resolve_error is not None:
            raise self.resolve_error
        return super().resolve(host, family, timeout)


class AsyncUnreadable(AsyncNetworkStream):
    """The async twin of :class:`Unreadable`."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.written = b""
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        raise self.error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    async def aclose(self) -> None:
        self.closed = True


class AsyncProxyBackend(AsyncMockBackend):
    """The async twin of :class:`ProxyBackend`."""

    def __init__(
        self,
        script: list[bytes],
        read_error: Exception | None = None,
        resolve_error: Exception | None = None,
    ) -> None:
        super().__init__(script)
        self.read_error = read_error
        self.resolve_error = resolve_error
        self.unreadable: list[AsyncUnreadable] = []

    async def connect_tcp(
        self, host: str, port: int, *args: typing.Any, **kwargs: typing.Any
    ) -> typing.Any:
        if self.read_error is None:
            return await super().connect_tcp(host, port, *args, **kwargs)
        stream = AsyncUnreadable(self.read_error)
        self.unreadable.append(stream)
        return stream

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        if self.resolve_error is not None:
            raise self.resolve_error
        return await super().resolve(host, family, timeout)


def _request(proxy: str, url: str, backend: MockBackend) -> bytes:
    with ConnectionPool(proxy=Proxy(proxy), network_backend=backend) as pool:
        return pool.request("GET", url).content


async def _async_request(proxy: str, url: str, backend: AsyncMockBackend) -> bytes:
    async with AsyncConnectionPool(proxy=Proxy(proxy), network_backend=backend) as pool:
        return (await pool.request("GET", url)).content


@pytest.mark.parametrize(
    ("proxy", "url"),
    [
        ("http://proxy:3128", "https://example.com/"),  # CONNECT
        ("socks5://proxy:1080", "http://example.com/"),
        ("socks4a://proxy:1080", "http://example.com/"),
    ],
)
def test_handshake_timeout_and_break_are_told_apart(proxy: str, url: str) -> None:
    timed_out = ProxyBackend([], read_error=ReadTimeout("no answer"))
    with pytest.raises(ConnectTimeout, match="Timed out during the"):
        _request(proxy, url, timed_out)
    broken = ProxyBackend([], read_error=ReadError("connection reset by peer"))
    with pytest.raises(ProxyError, match="broke the connection during the") as info:
        _request(proxy, url, broken)
    assert "connection reset by peer" in str(info.value)
    assert all(stream.closed for stream in timed_out.unreadable + broken.unreadable)


@pytest.mark.parametrize(
    ("error", "raised", "words"),
    [
        (ConnectError("no such name"), ConnectError, "Could not resolve 'origin.invalid'"),
        (ConnectTimeout("slow resolver"), ConnectTimeout, "Timed out resolving 'origin.invalid'"),
    ],
)
def test_socks4_resolves_the_origin_itself(
    error: Exception, raised: type[Exception], words: str
) -> None:
    """SOCKS4 (not 4a) carries an IPv4 address: the origin's name is resolved here,
    and a failed lookup says so."""
    backend = ProxyBackend([], resolve_error=error)
    with pytest.raises(raised) as info:
        _request("socks4://proxy:1080", "http://origin.invalid/", backend)
    assert words in str(info.value)
    assert "for the SOCKS proxy" in str(info.value)
    assert info.value.__cause__ is error


def test_socks4_cannot_reach_an_ipv6_host() -> None:
    backend = ProxyBackend([])
    with pytest.raises(ProxyError, match="SOCKS4 can only address IPv4 hosts, not '::1'"):
        _request("socks4://proxy:1080", "http://[::1]:8080/", backend)
    assert backend.streams[0].written == []  # refused before a byte was sent


def test_socks5_reply_with_an_ipv6_bound_address() -> None:
    """The proxy's reply names its bound address as IPv6 (16 bytes and a port): it is
    read whole, and the response that follows is the origin's."""
    reply = b"\x05\x00\x00\x04" + bytes(range(16)) + b"\x1f\x90"
    backend = ProxyBackend([SOCKS5_NO_AUTH, reply, OK])
    assert _request("socks5h://proxy:1080", "http://example.com/", backend) == b"ok"
    written = backend.streams[0].written
    assert written[0] == b"\x05\x01\x00"  # SOCKS5, one method: no authentication
    assert written[1].startswith(b"\x05\x01\x00\x03\x0bexample.com")  # CONNECT by name
    assert written[2].startswith(b"GET / HTTP/1.1\r\n")


# -- the async pool: the same cases ----------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("proxy", "url"),
    [
        ("http://proxy:3128", "https://example.com/"),
        ("socks5://proxy:1080", "http://example.com/"),
    ],
)
async def test_async_handshake_timeout_and_break_are_told_apart(
    anyio_backend: str, proxy: str, url: str
) -> None:
    timed_out = AsyncProxyBackend([], read_error=ReadTimeout("no answer"))
    with pytest.raises(ConnectTimeout, match="Timed out during the"):
        await _async_request(proxy, url, timed_out)
    broken = AsyncProxyBackend([], read_error=ReadError("connection reset by peer"))
    with pytest.raises(ProxyError, match="broke the connection during the"):
        await _async_request(proxy, url, broken)
    assert all(stream.closed for stream in timed_out.unreadable + broken.unreadable)


@pytest.mark.anyio
async def test_async_socks4_resolves_the_origin_itself(anyio_backend: str) -> None:
    for error, raised in [
        (ConnectError("no"), ConnectError),
        (ConnectTimeout("slow"), ConnectTimeout),
    ]:
        backend = AsyncProxyBackend([], resolve_error=error)
        with pytest.raises(raised, match=r"'origin\.invalid' for the SOCKS proxy"):
            await _async_request("socks4://proxy:1080", "http://origin.invalid/", backend)


@pytest.mark.anyio
async def test_async_socks4_cannot_reach_an_ipv6_host(anyio_backend: str) -> None:
    with pytest.raises(ProxyError, match="SOCKS4 can only address IPv4 hosts"):
        await _async_request("socks4://proxy:1080", "http://[::1]:8080/", AsyncProxyBackend([]))


@pytest.mark.anyio
async def test_async_socks5_reply_with_an_ipv6_bound_address(anyio_backend: str) -> None:
    reply = b"\x05\x00\x00\x04" + bytes(range(16)) + b"\x1f\x90"
    backend = AsyncProxyBackend([SOCKS5_NO_AUTH, reply, OK])
    assert await _async_request("socks5h://proxy:1080", "http://example.com/", backend) == b"ok"
