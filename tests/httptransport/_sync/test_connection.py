# Generated from tests/httptransport/_async/test_connection.py by scripts/unasync.py: do not edit.
"""Connecting: retries, TLS, Unix sockets, socket options, HTTP/2 refusal (mock backend)."""

from __future__ import annotations

import socket
import ssl
import typing

import pytest

from httptransport import (
    ConnectError,
    ConnectionInterface,
    ConnectionNotAvailable,
    ConnectionPool,
    ConnectTimeout,
    HTTPConnection,
    Origin,
)

netbackend_mock = pytest.importorskip("netbackend_mock")

OK = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]


def _tls_calls(backend: typing.Any) -> list[typing.Any]:
    return [call for stream in backend.streams for call in stream.tls_calls]


class FlakyBackend(netbackend_mock.MockBackend):  # type: ignore[misc,name-defined]
    """Fails the first ``failures`` connects with ``error``."""

    def __init__(self, failures: int, error: type[Exception] = ConnectError) -> None:
        super().__init__(list(OK))
        self.failures = failures
        self.error = error

    def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if self.failures:
            self.failures -= 1
            raise self.error("refused")
        return super().connect_tcp(*args, **kwargs)


def test_connect_retries_with_backoff() -> None:
    """Connect errors and timeouts are retried ``retries`` times, with growing pauses."""
    backend = FlakyBackend(3, ConnectTimeout)
    with ConnectionPool(network_backend=backend, retries=3) as pool:
        response = pool.request("GET", "http://example.com/")
        assert response.content == b"ok"
    assert backend.sleeps == [0.0, 0.5, 1.0]


def test_connect_failure_after_retries() -> None:
    """When retries run out the error propagates and the slot is freed."""
    backend = FlakyBackend(2)
    with ConnectionPool(network_backend=backend, retries=1) as pool:
        with pytest.raises(ConnectError):
            pool.request("GET", "http://example.com/")
        assert repr(pool) == (
            "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
        )
        response = pool.request("GET", "http://example.com/")
        assert response.status == 200


def test_connection_info_when_connect_fails() -> None:
    """A connection whose connect failed says so, and counts as closed, idle and
    expired (as httpcore reports it)."""
    connection = HTTPConnection(
        Origin(b"http", b"example.com", 80), network_backend=FlakyBackend(1)
    )
    assert repr(connection) == "<HTTPConnection [CONNECTING]>"
    with pytest.raises(ConnectError):
        connection.request("GET", "http://example.com/")
    assert connection.info() == "CONNECTION FAILED"
    assert connection.is_closed()
    assert connection.is_idle()
    assert connection.has_expired()
    with pytest.raises(RuntimeError):
        HTTPConnection(Origin(b"http", b"a", 80)).request("GET", "http://b/")


def test_tls_sni_and_context_untouched() -> None:
    """https starts TLS with the host (or sni_hostname) and the caller's context as is."""
    backend = netbackend_mock.MockBackend(OK + OK)
    context = ssl.create_default_context()
    with ConnectionPool(network_backend=backend, ssl_context=context) as pool:
        pool.request("GET", "https://example.com/")
        pool.request("GET", "https://example.org/", extensions={"sni_hostname": "sni.example"})
    assert [call.server_hostname for call in _tls_calls(backend)] == [
        "example.com",
        "sni.example",
    ]
    assert all(call.ssl_context is context for call in _tls_calls(backend))


def test_default_tls_context_is_pool_owned_with_alpn() -> None:
    """Without a context the pool builds one (ALPN http/1.1) and shares it."""
    backend = netbackend_mock.MockBackend(OK)
    with ConnectionPool(network_backend=backend, max_connections=None) as pool:
        pool.request("GET", "https://example.com/")
        pool.request("GET", "https://example.org/")
    first, second = _tls_calls(backend)
    assert first.ssl_context is second.ssl_context
    assert isinstance(first.ssl_context, ssl.SSLContext)
    backend = netbackend_mock.MockBackend(OK)
    with HTTPConnection(
        Origin(b"https", b"example.com", 443), network_backend=backend
    ) as connection:
        connection.request("GET", "https://example.com/")
    assert isinstance(_tls_calls(backend)[0].ssl_context, ssl.SSLContext)


def test_uds_socket_options_local_address() -> None:
    """uds, socket_options and local_address reach the backend's connect call."""
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    backend = netbackend_mock.MockBackend(OK)
    with ConnectionPool(network_backend=backend, uds="/tmp/x.sock", socket_options=options) as pool:
        pool.request("GET", "http://example.com/", extensions={"timeout": {"connect": 3}})
    [call] = backend.connect_calls
    assert (call.kind, call.path, call.timeout) == ("unix", "/tmp/x.sock", 3)
    assert call.socket_options == tuple(options)
    backend = netbackend_mock.MockBackend(OK)
    with ConnectionPool(
        network_backend=backend, local_address="127.0.0.1", socket_options=options
    ) as pool:
        pool.request("GET", "http://example.com:8080/")
    [call] = backend.connect_calls
    assert (call.host, call.port, call.local_address) == ("example.com", 8080, "127.0.0.1")
    assert call.socket_options == tuple(options)


def test_connect_trace_events() -> None:
    """connect_tcp, start_tls, connect_unix_socket and retry are traced."""
    events: list[str] = []

    def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    backend = FlakyBackend(1)
    with ConnectionPool(network_backend=backend, retries=1) as pool:
        pool.request("GET", "https://example.com/", extensions={"trace": trace})
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
    backend = netbackend_mock.MockBackend(OK)
    with ConnectionPool(network_backend=backend, uds="/tmp/x.sock") as pool:
        pool.request("GET", "http://example.com/", extensions={"trace": trace})
    assert events[:2] == [
        "connection.connect_unix_socket.started",
        "connection.connect_unix_socket.complete",
    ]


class _NeverAvailable(ConnectionInterface):
    """A connection that always declines its request."""

    def __init__(self) -> None:
        self.closed = False

    def handle_request(self, request: typing.Any) -> typing.Any:
        raise ConnectionNotAvailable()

    def close(self) -> None:
        self.closed = True

    def is_idle(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return self.closed


def test_connection_declining_forever_gives_up() -> None:
    """A request that keeps being declined by fresh connections fails after a few tries."""
    created: list[_NeverAvailable] = []

    class Pool(ConnectionPool):
        def create_connection(self, origin: Origin) -> ConnectionInterface:
            created.append(_NeverAvailable())
            return created[-1]

    with Pool(network_backend=netbackend_mock.MockBackend([])) as pool:
        with pytest.raises(ConnectionNotAvailable):
            pool.request("GET", "http://example.com/")
        assert len(created) == 4
        assert all(connection.closed for connection in created)
        assert repr(pool).endswith("Connections: 0 active, 0 idle]>")


def test_create_connection_failure_returns_the_slot() -> None:
    """If create_connection raises, the slot it was to fill is given back."""

    class Pool(ConnectionPool):
        def create_connection(self, origin: Origin) -> ConnectionInterface:
            raise OSError("no")

    with Pool(network_backend=netbackend_mock.MockBackend([])) as pool:
        with pytest.raises(OSError, match="no"):
            pool.request("GET", "http://example.com/")
        assert repr(pool).endswith(
            "[Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
        )
