"""Connecting: retries, TLS, Unix sockets, socket options, HTTP/2 refusal (mock backend)."""

from __future__ import annotations

import socket
import ssl
import typing

import pytest

from httptransport import (
    AsyncConnectionInterface,
    AsyncConnectionPool,
    AsyncHTTPConnection,
    ConnectError,
    ConnectionNotAvailable,
    ConnectTimeout,
    Origin,
)

netbackend_mock = pytest.importorskip("netbackend_mock")

OK = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]


def _tls_calls(backend: typing.Any) -> list[typing.Any]:
    return [call for stream in backend.streams for call in stream.tls_calls]


class FlakyBackend(netbackend_mock.AsyncMockBackend):  # type: ignore[misc,name-defined]
    """Fails the first ``failures`` connects with ``error``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectError) -> None:
        super().__init__(list(OK))
        self.failures = failures
        self.error = error

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if self.failures:
            self.failures -= 1
            raise self.error("refused")
        return await super().connect_tcp(*args, **kwargs)


@pytest.mark.anyio
async def test_connect_retries_with_backoff() -> None:
    """Connect errors and timeouts are retried ``retries`` times, with growing pauses."""
    backend = FlakyBackend(3, ConnectTimeout)
    async with AsyncConnectionPool(network_backend=backend, retries=3) as pool:
        response = await pool.request("GET", "http://example.com/")
        assert response.content == b"ok"
    assert backend.sleeps == [0.0, 0.5, 1.0]


@pytest.mark.anyio
async def test_connect_failure_after_retries() -> None:
    """When retries run out the error propagates and the slot is freed."""
    backend = FlakyBackend(2)
    async with AsyncConnectionPool(network_backend=backend, retries=1) as pool:
        with pytest.raises(ConnectError):
            await pool.request("GET", "http://example.com/")
        assert repr(pool) == (
            "<AsyncConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
        )
        response = await pool.request("GET", "http://example.com/")
        assert response.status == 200


@pytest.mark.anyio
async def test_connection_info_when_connect_fails() -> None:
    """A connection whose connect failed says so, and counts as closed, idle and
    expired (as httpcore reports it)."""
    connection = AsyncHTTPConnection(
        Origin(b"http", b"example.com", 80), network_backend=FlakyBackend(1)
    )
    assert repr(connection) == "<AsyncHTTPConnection [CONNECTING]>"
    with pytest.raises(ConnectError):
        await connection.request("GET", "http://example.com/")
    assert connection.info() == "CONNECTION FAILED"
    assert connection.is_closed()
    assert connection.is_idle()
    assert connection.has_expired()
    with pytest.raises(RuntimeError):
        await AsyncHTTPConnection(Origin(b"http", b"a", 80)).request("GET", "http://b/")


@pytest.mark.anyio
async def test_tls_sni_and_context_untouched() -> None:
    """https starts TLS with the host (or sni_hostname) and the caller's context as is."""
    backend = netbackend_mock.AsyncMockBackend(OK + OK)
    context = ssl.create_default_context()
    async with AsyncConnectionPool(network_backend=backend, ssl_context=context) as pool:
        await pool.request("GET", "https://example.com/")
        await pool.request(
            "GET", "https://example.org/", extensions={"sni_hostname": "sni.example"}
        )
    assert [call.server_hostname for call in _tls_calls(backend)] == [
        "example.com",
        "sni.example",
    ]
    assert all(call.ssl_context is context for call in _tls_calls(backend))


@pytest.mark.anyio
async def test_default_tls_context_is_pool_owned_with_alpn() -> None:
    """Without a context the pool builds one (ALPN http/1.1) and shares it."""
    backend = netbackend_mock.AsyncMockBackend(OK)
    async with AsyncConnectionPool(network_backend=backend, max_connections=None) as pool:
        await pool.request("GET", "https://example.com/")
        await pool.request("GET", "https://example.org/")
    first, second = _tls_calls(backend)
    assert first.ssl_context is second.ssl_context
    assert isinstance(first.ssl_context, ssl.SSLContext)
    backend = netbackend_mock.AsyncMockBackend(OK)
    async with AsyncHTTPConnection(
        Origin(b"https", b"example.com", 443), network_backend=backend
    ) as connection:
        await connection.request("GET", "https://example.com/")
    assert isinstance(_tls_calls(backend)[0].ssl_context, ssl.SSLContext)


@pytest.mark.anyio
async def test_uds_socket_options_local_address() -> None:
    """uds, socket_options and local_address reach the backend's connect call."""
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    backend = netbackend_mock.AsyncMockBackend(OK)
    async with AsyncConnectionPool(
        network_backend=backend, uds="/tmp/x.sock", socket_options=options
    ) as pool:
        await pool.request("GET", "http://example.com/", extensions={"timeout": {"connect": 3}})
    [call] = backend.connect_calls
    assert (call.kind, call.path, call.timeout) == ("unix", "/tmp/x.sock", 3)
    assert call.socket_options == tuple(options)
    backend = netbackend_mock.AsyncMockBackend(OK)
    async with AsyncConnectionPool(
        network_backend=backend, local_address="127.0.0.1", socket_options=options
    ) as pool:
        await pool.request("GET", "http://example.com:8080/")
    [call] = backend.connect_calls
    assert (call.host, call.port, call.local_address) == ("example.com", 8080, "127.0.0.1")
    assert call.socket_options == tuple(options)


@pytest.mark.anyio
async def test_connect_trace_events() -> None:
    """connect_tcp, start_tls, connect_unix_socket and retry are traced."""
    events: list[str] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    backend = FlakyBackend(1)
    async with AsyncConnectionPool(network_backend=backend, retries=1) as pool:
        await pool.request("GET", "https://example.com/", extensions={"trace": trace})
    assert events[:6] == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.failed",
        "connection.retry.started",
        "connection.retry.complete",
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
    ]
    assert "connection.start_tls.complete" in events
    events.clear()
    backend = netbackend_mock.AsyncMockBackend(OK)
    async with AsyncConnectionPool(network_backend=backend, uds="/tmp/x.sock") as pool:
        await pool.request("GET", "http://example.com/", extensions={"trace": trace})
    assert events[:2] == [
        "connection.connect_unix_socket.started",
        "connection.connect_unix_socket.complete",
    ]


class _NeverAvailable(AsyncConnectionInterface):
    """A connection that always declines its request."""

    def __init__(self) -> None:
        self.closed = False

    async def handle_async_request(self, request: typing.Any) -> typing.Any:
        raise ConnectionNotAvailable()

    async def aclose(self) -> None:
        self.closed = True

    def is_idle(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return self.closed


@pytest.mark.anyio
async def test_connection_declining_forever_gives_up() -> None:
    """A request that keeps being declined by fresh connections fails after a few tries."""
    created: list[_NeverAvailable] = []

    class Pool(AsyncConnectionPool):
        def create_connection(self, origin: Origin) -> AsyncConnectionInterface:
            created.append(_NeverAvailable())
            return created[-1]

    async with Pool(network_backend=netbackend_mock.AsyncMockBackend([])) as pool:
        with pytest.raises(ConnectionNotAvailable):
            await pool.request("GET", "http://example.com/")
        assert len(created) == 4
        assert all(connection.closed for connection in created)
        assert repr(pool).endswith("Connections: 0 active, 0 idle]>")


@pytest.mark.anyio
async def test_create_connection_failure_returns_the_slot() -> None:
    """If create_connection raises, the slot it was to fill is given back."""

    class Pool(AsyncConnectionPool):
        def create_connection(self, origin: Origin) -> AsyncConnectionInterface:
            raise OSError("no")

    async with Pool(network_backend=netbackend_mock.AsyncMockBackend([])) as pool:
        with pytest.raises(OSError, match="no"):
            await pool.request("GET", "http://example.com/")
        assert repr(pool).endswith(
            "[Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
        )
