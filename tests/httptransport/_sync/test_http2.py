# Generated from tests/httptransport/_async/test_http2.py by scripts/unasync.py: do not edit.
"""HTTP/2: negotiation, multiplexing, flow control, limits, resets, GOAWAY and errors."""

from __future__ import annotations

import ssl
import sys
import typing

import pytest

from httptransport import (
    ConnectionPool,
    HTTPConnection,
    Origin,
)

h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")
hpack = pytest.importorskip("hpack")
hyperframe = pytest.importorskip("hyperframe.frame")
netbackend_mock = pytest.importorskip("netbackend_mock")

MAX_STREAMS = h2_settings.SettingCodes.MAX_CONCURRENT_STREAMS


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


def _client_ctx(client_ssl_context: ssl.SSLContext) -> ssl.SSLContext:
    client_ssl_context.set_alpn_protocols(["h2", "http/1.1"])
    return client_ssl_context


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
    from httptransport._sync import http2

    monkeypatch.setattr(http2, "_h2", None)
    monkeypatch.setitem(sys.modules, "h2", None)
    with pytest.raises(ImportError, match=r"pip install httptransport\[http2\]"):
        ConnectionPool(http2=True)
    with pytest.raises(ImportError, match=r"httptransport\[http2\]"):
        HTTPConnection(Origin(b"https", b"example.com", 443), http2=True)


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "h2c"])
def test_real_server_multiplexes(
    h2_server: typing.Any, client_ssl_context: ssl.SSLContext, concurrently: typing.Any, tls: bool
) -> None:
    """Concurrent requests to hypercorn share one HTTP/2 connection."""
    server = h2_server(tls=tls)
    results: list[bytes] = []
    with ConnectionPool(
        ssl_context=_client_ctx(client_ssl_context) if tls else None,
        http1=tls,
        http2=True,
    ) as pool:

        def one() -> None:
            response = pool.request("GET", server.url("/"))
            assert response.extensions["http_version"] == b"HTTP/2"
            results.append(response.content)

        concurrently(one, 20)
        assert results == [b"hello"] * 20
        assert len(pool.connections) == 1
        response = pool.request("GET", server.url("/host"), headers={"Host": "example.org"})
        assert response.content == b"example.org"


def test_large_upload_and_download(h2_server: typing.Any, concurrently: typing.Any) -> None:
    """Bodies far beyond the default windows go both ways, streamed or in memory."""
    server = h2_server(tls=False)
    payload = bytes(range(256)) * 8192  # 2 MiB

    def chunks() -> typing.Iterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    with ConnectionPool(http1=False, http2=True) as pool:

        def one() -> None:
            response = pool.request("POST", server.url("/echo"), content=payload)
            assert response.content == payload
            response = pool.request("GET", server.url("/bytes/3000000"))
            assert len(response.content) == 3_000_000

        concurrently(one, 3)
        response = pool.request("POST", server.url("/echo"), content=chunks())
        assert response.content == payload


def _path(event: typing.Any) -> bytes:
    return bytes(dict(event.headers)[b":path"])


def _unfinished_responder(peer: typing.Any, index: int) -> None:
    """Answer ``/ok`` fully; anything else with a head and a first chunk only."""
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if isinstance(event, h2_events.RequestReceived):
                if _path(event) == b"/ok":
                    peer.respond(event.stream_id, b"done")
                else:
                    peer.h2.send_headers(event.stream_id, [(b":status", b"200")])
                    peer.h2.send_data(event.stream_id, b"first")
                    peer.flush()


def test_abandoned_streams_free_their_slots(h2_peer: typing.Any) -> None:
    """Closing 1,000 unfinished responses early resets each stream and frees its slot."""
    peer = h2_peer(_unfinished_responder, settings={MAX_STREAMS: 10})
    with ConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        for _ in range(1000):
            with pool.stream("GET", peer.url("/more")) as response:
                body = typing.cast(typing.Iterator[bytes], response.stream)
                assert body.__next__() == b"first"
        response = pool.request("GET", peer.url("/ok"))
        assert response.content == b"done"
        assert len(pool.connections) == 1
    resets = [e for e in peer.connections[0].received if isinstance(e, h2_events.StreamReset)]
    assert len(resets) == 1000
    assert {e.error_code for e in resets} == {8}  # CANCEL
