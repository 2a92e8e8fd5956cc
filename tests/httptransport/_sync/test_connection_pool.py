# Generated from tests/httptransport/_async/test_connection_pool.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The async pool against a real loopback server (the sync tests are generated)."""

from __future__ import annotations

import socket
import typing

import pytest

import netbackend_mock
from httptransport import (
    ConnectionInterface,
    ConnectionPool,
    HTTPConnection,
    Origin,
    PoolTimeout,
    RemoteProtocolError,
    Request,
    Response,
    UnsupportedProtocol,
)


def test_get_and_reuse(server: typing.Any) -> None:
    """Two GETs go over one kept-alive connection, shown by repr and info."""
    with ConnectionPool() as pool:
        response = pool.request("GET", server.url())
        assert response.status == 200
        assert response.content == b"Hello, world!"
        assert response.extensions["http_version"] == b"HTTP/1.1"
        assert response.extensions["reason_phrase"] == b"OK"
        assert response.extensions["network_stream"] is not None
        response = pool.request("GET", server.url())
        assert server.connections_accepted == 1
        assert repr(pool) == (
            "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
        )
        [connection] = pool.connections
        assert connection.info() == (
            f"'http://127.0.0.1:{server.port}', HTTP/1.1, IDLE, Request Count: 2"
        )
        assert repr(connection) == f"<HTTPConnection [{connection.info()}]>"
    assert pool.connections == []


def test_streaming_response_holds_the_connection(server: typing.Any) -> None:
    """A streamed response keeps its connection active until read to the end."""
    with ConnectionPool() as pool:
        with pool.stream("GET", server.url("/big")) as response:
            assert repr(pool) == (
                "<ConnectionPool [Requests: 1 active, 0 queued | Connections: 1 active, 0 idle]>"
            )
            total = 0
            for chunk in response.iter_stream():
                total += len(chunk)
            assert total == 1024 * 1024
        assert repr(pool) == (
            "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 1 idle]>"
        )


def test_closing_unread_response_drops_connection(server: typing.Any) -> None:
    """Closing a response before its end closes its connection and frees the slot."""
    with ConnectionPool(max_connections=1) as pool:
        with pool.stream("GET", server.url("/big")):
            pass
        assert pool.connections == []
        response = pool.request("GET", server.url(), extensions={"timeout": {"pool": 5}})
        assert response.status == 200
        assert server.connections_accepted == 2


def test_post_bodies(server: typing.Any) -> None:
    """Bytes and iterable request bodies arrive intact (Content-Length and chunked)."""

    def parts() -> typing.Iterator[bytes]:
        yield b"abc"
        yield b""
        yield b"def"

    def framing(request: typing.Any) -> list[tuple[bytes, bytes]]:
        return [
            (name, value)
            for name, value in request.headers
            if name in (b"content-length", b"transfer-encoding")
        ]

    with ConnectionPool() as pool:
        response = pool.request("POST", server.url("/echo"), content=b"payload")
        assert response.content == b"payload"
        assert framing(server.requests[-1]) == [(b"content-length", b"7")]
        response = pool.request("POST", server.url("/echo"), content=parts())
        assert response.content == b"abcdef"
        assert framing(server.requests[-1]) == [(b"transfer-encoding", b"chunked")]
    assert len(server.requests) == 2


def test_chunked_http10_and_informational_responses(server: typing.Any) -> None:
    """Chunked, HTTP/1.0 close-delimited and 100-Continue-preceded responses are read."""
    with ConnectionPool() as pool:
        response = pool.request("GET", server.url("/chunked"))
        assert response.content == b"Hello, world!"
        response = pool.request("GET", server.url("/continue"))
        assert (response.status, response.content) == (200, b"ok")
        assert server.connections_accepted == 1
        response = pool.request("GET", server.url("/http10"))
        assert response.content == b"old school"
        assert response.extensions["http_version"] == b"HTTP/1.0"
        assert pool.connections == []  # the HTTP/1.0 connection was not kept


def test_head_and_connection_close(server: typing.Any) -> None:
    """HEAD has no body; 'Connection: close' (either side) retires the connection."""
    with ConnectionPool() as pool:
        response = pool.request("HEAD", server.url())
        assert response.content == b""
        assert dict(response.headers)[b"Content-Length"] == b"13"
        response = pool.request("GET", server.url("/close"))
        assert response.content == b"Hello, world!"
        assert pool.connections == []
        pool.request("GET", server.url(), headers={"Connection": "close"})
        assert pool.connections == []
        assert server.connections_accepted == 2


def test_upgrade_hands_over_the_stream(server: typing.Any) -> None:
    """A 101 response exposes the raw stream, including bytes read ahead."""
    with ConnectionPool() as pool:
        with pool.stream(
            "GET", server.url("/upgrade"), headers={"Upgrade": "echo", "Connection": "Upgrade"}
        ) as response:
            assert response.status == 101
            stream = response.extensions["network_stream"]
            assert stream.read(2) == b"he"
            assert stream.read(100) == b"llo"
            stream.write(b"ping")
            assert stream.read(100) == b"ping"
            assert stream.get_extra_info("server_addr")[1] == server.port
        assert pool.connections == []


def test_retry_after_server_closed_idle_connection(server: typing.Any) -> None:
    """A GET on a connection the server closed while idle is resent on a new one."""
    with ConnectionPool() as pool:
        pool.request("GET", server.url())
        assert server.close_idle() == 1
        response = pool.request("GET", server.url())
        assert response.content == b"Hello, world!"
        assert server.connections_accepted == 2
        assert len(pool.connections) == 1


def test_no_retry_for_post(server: typing.Any) -> None:
    """A POST on a connection the server closed while idle fails, and is not resent."""
    with ConnectionPool() as pool:
        pool.request("GET", server.url())
        server.close_idle()
        with pytest.raises(RemoteProtocolError, match="without sending a response"):
            pool.request("POST", server.url("/echo"), content=b"x")
        assert server.connections_accepted == 1
        assert repr(pool).endswith("Connections: 0 active, 0 idle]>")


def test_pool_timeout_and_max_connections(server: typing.Any) -> None:
    """With every slot busy, a request waits at most the pool timeout."""
    with ConnectionPool(max_connections=1) as pool:
        with pool.stream("GET", server.url()):
            with pytest.raises(PoolTimeout):
                pool.request("GET", server.url(), extensions={"timeout": {"pool": 0.01}})
            assert "0 queued" in repr(pool)
        response = pool.request("GET", server.url())
        assert response.status == 200


def test_keepalive_limit_counts_idle_connections_only(server: typing.Any) -> None:
    """max_keepalive_connections bounds idle connections, not active ones."""
    with ConnectionPool(max_connections=3, max_keepalive_connections=1) as pool:
        responses = []
        for _ in range(3):
            response = pool.handle_request(_request(server.url("/big")))
            responses.append(response)
        assert len(pool.connections) == 3
        for response in responses:
            response.read()
            response.close()
        assert repr(pool).endswith("Connections: 0 active, 1 idle]>")


def test_keepalive_expiry(server: typing.Any) -> None:
    """An idle connection past its expiry is closed and replaced."""
    with ConnectionPool(keepalive_expiry=1e-9) as pool:
        pool.request("GET", server.url())
        [first] = pool.connections
        assert first.has_expired()
        pool.request("GET", server.url())
        assert first.is_closed()
        assert server.connections_accepted == 2


def test_keepalive_expiry_zero_closes_at_once(server: typing.Any) -> None:
    """keepalive_expiry=0 closes a connection as soon as its response is done, as
    httpcore does: none is kept idle."""
    with ConnectionPool(keepalive_expiry=0) as pool:
        with pool.stream("GET", server.url()) as response:
            [connection] = pool.connections
            response.read()
        assert pool.connections == []
        assert connection.is_closed()
        pool.request("GET", server.url())
        assert pool.connections == []
        assert server.connections_accepted == 2


def test_other_origin_evicts_idle_connection(server: typing.Any) -> None:
    """A full pool closes an idle connection to one origin to serve another."""
    with ConnectionPool(max_connections=1) as pool:
        pool.request("GET", server.url())
        pool.request("GET", f"http://localhost:{server.port}/")
        [connection] = pool.connections
        assert "localhost" in connection.info()


def test_waiters_get_connections_handed_over(server: typing.Any, concurrently: typing.Any) -> None:
    """Queued requests are woken with the connections other requests released."""
    with ConnectionPool(max_connections=2) as pool:
        results: list[bytes] = []

        def fetch() -> None:
            for _ in range(5):
                results.append((pool.request("GET", server.url())).content)

        concurrently(fetch, 8)
        assert results == [b"Hello, world!"] * 40
        assert server.connections_accepted <= 2
        assert "Requests: 0 active, 0 queued" in repr(pool)


def test_trace_extension(server: typing.Any) -> None:
    """The trace callback sees every phase, in order."""
    events: list[str] = []

    def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    with ConnectionPool() as pool:
        pool.request("POST", server.url("/echo"), content=b"x", extensions={"trace": trace})
    assert events == [
        "connection.connect_tcp.started",
        "connection.connect_tcp.complete",
        "http11.send_request_headers.started",
        "http11.send_request_headers.complete",
        "http11.send_request_body.started",
        "http11.send_request_body.complete",
        "http11.receive_response_headers.started",
        "http11.receive_response_headers.complete",
        "http11.receive_response_body.started",
        "http11.receive_response_body.complete",
        "http11.response_closed.started",
        "http11.response_closed.complete",
    ]


def test_unsupported_urls() -> None:
    """URLs without a supported scheme or a host are refused."""
    with ConnectionPool() as pool:
        with pytest.raises(UnsupportedProtocol, match="missing an 'http://'"):
            pool.request("GET", "/path")
        with pytest.raises(UnsupportedProtocol, match="'ftp://'"):
            pool.request("GET", "ftp://example.com/")
        with pytest.raises(UnsupportedProtocol, match="missing a host"):
            pool.request("GET", "http:///path")


def test_no_protocol_is_refused() -> None:
    """Disabling both protocols raises ValueError."""
    with pytest.raises(ValueError):
        ConnectionPool(http1=False, http2=False)


def test_socket_options_and_local_address(server: typing.Any) -> None:
    """Socket options and the local address reach the socket."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    with ConnectionPool(socket_options=options, local_address="127.0.0.1") as pool:
        response = pool.request("GET", server.url())
        sock = response.extensions["network_stream"].get_extra_info("socket")
        if sock is not None:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert response.extensions["network_stream"].get_extra_info("client_addr")[0] == (
            "127.0.0.1"
        )


def test_https(tls_server: typing.Any, client_ssl_context: typing.Any) -> None:
    """HTTPS works with the caller's context, on which ALPN offers http/1.1, as httpcore
    sets it."""
    with ConnectionPool(ssl_context=client_ssl_context) as pool:
        response = pool.request("GET", tls_server.url())
        assert response.content == b"Hello, world!"
        ssl_object = response.extensions["network_stream"].get_extra_info("ssl_object")
        # The server offers ALPN: the caller's context now offers http/1.1.
        assert ssl_object.selected_alpn_protocol() == "http/1.1"
        response = pool.request("GET", tls_server.url(), extensions={"sni_hostname": "localhost"})
        assert response.status == 200


def test_connection_standalone(server: typing.Any) -> None:
    """An HTTPConnection can be used on its own, and reports its state."""
    from httptransport import Origin

    origin = Origin(b"http", b"127.0.0.1", server.port)
    with HTTPConnection(origin) as connection:
        assert connection.info() == "CONNECTING"
        assert not connection.is_available()
        response = connection.request("GET", server.url())
        assert response.status == 200
        assert connection.is_idle()
        assert connection.is_available()
        assert not connection.is_closed()
        with pytest.raises(RuntimeError, match="Attempted to send request"):
            connection.request("GET", "http://example.com/")
    assert connection.is_closed()


def _request(url: str) -> typing.Any:
    from httptransport import Request

    return Request("GET", url, headers=[(b"Host", b"127.0.0.1")])


def test_no_keepalive_closes_after_bodiless_response(server: typing.Any) -> None:
    """With max_keepalive_connections=0 even a HEAD response's connection is closed."""
    with ConnectionPool(max_keepalive_connections=0) as pool:
        response = pool.request("HEAD", server.url())
        assert response.status == 200
        assert pool.connections == []


def test_dead_idle_connection_is_replaced_before_use(
    server: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle connection found closed by the server is swapped before sending on it."""
    import select

    from httptransport._sync import http11

    monkeypatch.setattr(http11, "IDLE_POLL_AFTER", 0.0)
    events: list[str] = []

    def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(name)

    with ConnectionPool() as pool:
        response = pool.request("GET", server.url())
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert server.close_idle() == 1
        select.select([sock], [], [], 5.0)
        pool.request("GET", server.url(), extensions={"trace": trace})
        assert events[0] == "connection.connect_tcp.started"
        assert server.connections_accepted == 2


class _ThirdPartyConnection(ConnectionInterface):
    """A connection class written against httpcore's interface only: it wraps a real
    connection and implements just httpcore's methods, none of our extra ones."""

    def __init__(self, inner: ConnectionInterface) -> None:
        self.inner = inner
        self.requests = 0

    def handle_request(self, request: Request) -> Response:
        self.requests += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def info(self) -> str:
        return self.inner.info()

    def can_handle_request(self, origin: Origin) -> bool:
        return self.inner.can_handle_request(origin)

    def is_available(self) -> bool:
        return self.inner.is_available()

    def has_expired(self) -> bool:
        return self.inner.has_expired()

    def is_idle(self) -> bool:
        return self.inner.is_idle()

    def is_closed(self) -> bool:
        return self.inner.is_closed()


class _ThirdPartyPool(ConnectionPool):
    def __init__(self, **kwargs: typing.Any) -> None:
        super().__init__(**kwargs)
        self.made: list[_ThirdPartyConnection] = []

    def create_connection(self, origin: Origin) -> ConnectionInterface:
        connection = _ThirdPartyConnection(super().create_connection(origin))
        self.made.append(connection)
        return connection


def test_third_party_connection_class(server: typing.Any) -> None:
    """A connection class with only httpcore's methods is reused, given one request at a
    time, replaced once closed, and closed with the pool, through the interface's
    defaults."""
    for name in ("stream_capacity", "accepting", "usable", "keepalive_expired"):
        assert name not in vars(_ThirdPartyConnection)
    pool = _ThirdPartyPool(max_connections=2)
    with pool:
        for _ in range(3):
            response = pool.request("GET", server.url())
            assert response.content == b"Hello, world!"
        assert [c.requests for c in pool.made] == [3]
        assert server.connections_accepted == 1
        # One request at a time per connection: a second concurrent one gets another.
        with pool.stream("GET", server.url("/big")) as streamed:
            response = pool.request("GET", server.url())
            assert response.status == 200
            assert len(streamed.read()) == 1024 * 1024
        assert [c.requests for c in pool.made] == [4, 1]
        assert repr(pool) == (
            "<_ThirdPartyPool [Requests: 0 active, 0 queued | Connections: 0 active, 2 idle]>"
        )
        # Closed ones (has_expired) are replaced, not reused.
        for connection in pool.made:
            connection.inner.close()
        response = pool.request("GET", server.url())
        assert response.status == 200
        assert [c.requests for c in pool.made] == [4, 1, 1]
    assert pool.connections == []
    assert all(c.is_closed() for c in pool.made)


def test_failing_close_of_an_expired_connection_gives_the_slot_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Closing the idle connection found expired fails the request that found it (as
    it did), and that request holds nothing afterwards: its slot is given back, and the
    next request gets a connection."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    backend = netbackend_mock.MockBackend([ok, ok])
    with ConnectionPool(network_backend=backend, max_connections=1, keepalive_expiry=60.0) as pool:
        assert (pool.request("GET", "http://example.com/")).content == b"ok"
        [idle] = pool.connections
        typing.cast(typing.Any, idle)._connection._expire_at = 0.0  # long past

        def failing_aclose(self: typing.Any) -> None:
            raise OSError("close failed")

        with monkeypatch.context() as patch:
            patch.setattr(netbackend_mock.MockStream, "close", failing_aclose)
            with pytest.raises(OSError, match="close failed"):
                pool.request("GET", "http://example.com/")
        assert repr(pool) == (
            "<ConnectionPool [Requests: 0 active, 0 queued | Connections: 0 active, 0 idle]>"
        )
        assert (pool.request("GET", "http://example.com/")).content == b"ok"
        assert len(backend.streams) == 2
