# Generated from tests/httptransport/_async/test_http2_negotiation.py by scripts/unasync.py: do not edit.  # noqa: E501
"""Choosing HTTP/2 (ALPN, prior knowledge, the h2 extra) and the bare HTTP/2 connection."""

from __future__ import annotations

import ssl
import sys
import typing

import pytest

from httptransport import (
    ConnectionNotAvailable,
    ConnectionPool,
    HTTPConnection,
    Origin,
)

pytest.importorskip("h2")
hpack = pytest.importorskip("hpack")
hyperframe = pytest.importorskip("hyperframe.frame")
netbackend_mock = pytest.importorskip("netbackend_mock")


def _frames(*frames: typing.Any) -> list[bytes]:
    return [frame.serialize() for frame in frames]


def _server_frames(body: bytes = b"Hello, world!") -> list[bytes]:
    headers = hyperframe.HeadersFrame(
        stream_id=1,
        data=hpack.Encoder().encode([(b":status", b"200"), (b"content-type", b"text/plain")]),
        flags=["END_HEADERS"],
    )
    return _frames(
        hyperframe.SettingsFrame(),
        headers,
        hyperframe.DataFrame(stream_id=1, data=body, flags=["END_STREAM"]),
    )


def test_mock_backend_http2() -> None:
    """Server frames replayed by the mock backend make an HTTP/2 response."""
    backend = netbackend_mock.MockBackend(_server_frames(), http2=True)
    with ConnectionPool(network_backend=backend, http2=True) as pool:
        response = pool.request("GET", "https://example.com/")
        assert response.status == 200
        assert response.content == b"Hello, world!"
        assert response.extensions["http_version"] == b"HTTP/2"
        assert response.extensions["stream_id"] == 1
        assert response.headers == [(b"content-type", b"text/plain")]
        assert "HTTP/2" in pool.connections[0].info()


def test_h2c_prior_knowledge_with_mock() -> None:
    """http1=False, http2=True speaks HTTP/2 over cleartext without negotiation."""
    backend = netbackend_mock.MockBackend(_server_frames(b"h2c"))
    with ConnectionPool(network_backend=backend, http1=False, http2=True) as pool:
        response = pool.request("GET", "http://example.com/")
        assert response.extensions["http_version"] == b"HTTP/2"
        assert response.content == b"h2c"


def test_http2_without_alpn_h2_speaks_http11() -> None:
    """http2=True over TLS uses HTTP/1.1 when the server does not pick h2."""
    ok = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    backend = netbackend_mock.MockBackend(ok)
    with ConnectionPool(network_backend=backend, http2=True) as pool:
        response = pool.request("GET", "https://example.com/")
        assert response.extensions["http_version"] == b"HTTP/1.1"
        response = pool.request("GET", "https://example.com/")
        assert response.content == b"ok"
        assert len(pool.connections) == 1


def test_missing_h2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without h2 installed, asking for HTTP/2 names the extra to install."""
    from httptransport import _h2_adapter

    monkeypatch.setattr(_h2_adapter, "_h2", None)
    monkeypatch.setitem(sys.modules, "h2", None)
    with pytest.raises(ImportError, match=r"pip install httptransport\[http2\]"):
        ConnectionPool(http2=True)
    with pytest.raises(ImportError, match=r"httptransport\[http2\]"):
        HTTPConnection(Origin(b"https", b"example.com", 443), http2=True)


def test_callers_context_offers_what_each_pool_asks(
    h2_server: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """As in httpcore, http2=True offers h2 through the caller's own context; pools that
    share that context with different choices each get the protocol they asked for."""
    server = h2_server(tls=True)
    with (
        ConnectionPool(ssl_context=client_ssl_context, http2=True) as h2_pool,
        ConnectionPool(ssl_context=client_ssl_context) as h1_pool,
    ):
        for pool, version in [(h2_pool, b"HTTP/2"), (h1_pool, b"HTTP/1.1")] * 2:
            response = pool.request("GET", server.url("/"))
            assert response.extensions["http_version"] == version
            assert response.content == b"hello"
            # A new connection each time, so every round negotiates again.
            for connection in pool.connections:
                connection.close()


def test_http2_connection_directly() -> None:
    """The connection alone: origin check, state reporting, expiry and closing."""
    from httptransport import HTTP2Connection

    origin = Origin(b"https", b"example.com", 443)
    stream = netbackend_mock.MockStream(_server_frames(b"direct"), http2=True)
    with HTTP2Connection(origin, stream, keepalive_expiry=0.0) as conn:
        with pytest.raises(RuntimeError):
            conn.request("GET", "https://other.example/")
        assert conn.stream_capacity() == 100
        response = conn.request("GET", "https://example.com/")
        assert response.content == b"direct"
        assert conn.is_idle()
        assert conn.has_expired()
        assert not conn.usable(float("inf"))
        assert conn.info() == "'https://example.com:443', HTTP/2, IDLE, Request Count: 1"
    assert conn.is_closed()
    assert conn.has_expired()
    assert "CLOSED" in repr(conn)
    with pytest.raises(ConnectionNotAvailable):
        conn.request("GET", "https://example.com/")


def test_server_choosing_h2_without_h2_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """If ALPN picks h2 but h2 is missing, the request fails naming the extra."""
    from httptransport import _h2_adapter

    backend = netbackend_mock.MockBackend(_server_frames(), http2=True)
    with ConnectionPool(network_backend=backend) as pool:
        monkeypatch.setattr(_h2_adapter, "_h2", None)
        monkeypatch.setitem(sys.modules, "h2", None)
        with pytest.raises(ImportError, match=r"httptransport\[http2\]"):
            pool.request("GET", "https://example.com/")
        assert pool.connections == []
    assert backend.streams[0].closed


def test_unused_connection_state_and_close() -> None:
    """A connection that never sent anything closes without GOAWAY; its reuse checks
    look at the socket only once idle a while."""
    from httptransport import HTTP2Connection

    origin = Origin(b"http", b"example.com", 80)
    stream = netbackend_mock.MockStream([])
    conn = HTTP2Connection(origin, stream)
    assert conn.is_available()
    assert not conn.has_expired()
    assert not conn.keepalive_expired(float("inf"))
    assert conn.usable(conn._idle_since + 2.0)
    assert conn.usable(conn._idle_since)
    conn.close()
    assert stream.closed
    assert stream.written == []
    assert not conn.usable(conn._idle_since)
