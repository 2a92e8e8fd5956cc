"""Trace events are httpcore 1.0.9's: the same names, order, arguments and return
values, for the same requests.

The expected lists were recorded from httpcore 1.0.9 (its ``MockBackend`` answering with
the same bytes) by recording, for each event, its name, the sorted keys of its ``info``
and the type of ``info["return_value"]`` (a tuple as its items' types).
"""

from __future__ import annotations

import typing

import pytest

import httptransport

netbackend_mock = pytest.importorskip("netbackend_mock")
h2_config = pytest.importorskip("h2.config")
h2_connection = pytest.importorskip("h2.connection")

Event = tuple[str, tuple[str, ...], "str | None"]

CONNECT: list[Event] = [
    (
        "connection.connect_tcp.started",
        ("host", "local_address", "port", "socket_options", "timeout"),
        None,
    ),
    ("connection.connect_tcp.complete", ("return_value",), "MockStream"),
    ("connection.start_tls.started", ("server_hostname", "ssl_context", "timeout"), None),
    ("connection.start_tls.complete", ("return_value",), "MockStream"),
]

LEAN_GET: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

CHUNKED_GET: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

POST: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

CLOSED_EARLY: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

DISCONNECT: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.failed", ("exception",), None),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

NO_CONTENT: list[Event] = [
    *CONNECT,
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

H2_GET: list[Event] = [
    *CONNECT,
    ("http2.send_connection_init.started", ("request",), None),
    ("http2.send_connection_init.complete", ("return_value",), "NoneType"),
    ("http2.send_request_headers.started", ("request", "stream_id"), None),
    ("http2.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http2.send_request_body.started", ("request", "stream_id"), None),
    ("http2.send_request_body.complete", ("return_value",), "NoneType"),
    ("http2.receive_response_headers.started", ("request", "stream_id"), None),
    ("http2.receive_remote_settings.started", (), None),
    ("http2.receive_remote_settings.complete", ("return_value",), "RemoteSettingsChanged"),
    ("http2.receive_response_headers.complete", ("return_value",), "(int, list)"),
    ("http2.receive_response_body.started", ("request", "stream_id"), None),
    ("http2.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http2.response_closed.started", ("stream_id",), None),
    ("http2.response_closed.complete", ("return_value",), "NoneType"),
]

H2_POST: list[Event] = [
    *CONNECT,
    ("http2.send_connection_init.started", ("request",), None),
    ("http2.send_connection_init.complete", ("return_value",), "NoneType"),
    ("http2.send_request_headers.started", ("request", "stream_id"), None),
    ("http2.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http2.send_request_body.started", ("request", "stream_id"), None),
    ("http2.send_request_body.complete", ("return_value",), "NoneType"),
    ("http2.receive_response_headers.started", ("request", "stream_id"), None),
    ("http2.receive_remote_settings.started", (), None),
    ("http2.receive_remote_settings.complete", ("return_value",), "RemoteSettingsChanged"),
    ("http2.receive_response_headers.complete", ("return_value",), "(int, list)"),
    ("http2.receive_response_body.started", ("request", "stream_id"), None),
    ("http2.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http2.response_closed.started", ("stream_id",), None),
    ("http2.response_closed.complete", ("return_value",), "NoneType"),
]

H2_CLOSED_EARLY: list[Event] = [
    *CONNECT,
    ("http2.send_connection_init.started", ("request",), None),
    ("http2.send_connection_init.complete", ("return_value",), "NoneType"),
    ("http2.send_request_headers.started", ("request", "stream_id"), None),
    ("http2.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http2.send_request_body.started", ("request", "stream_id"), None),
    ("http2.send_request_body.complete", ("return_value",), "NoneType"),
    ("http2.receive_response_headers.started", ("request", "stream_id"), None),
    ("http2.receive_remote_settings.started", (), None),
    ("http2.receive_remote_settings.complete", ("return_value",), "RemoteSettingsChanged"),
    ("http2.receive_response_headers.complete", ("return_value",), "(int, list)"),
    ("http2.response_closed.started", ("stream_id",), None),
    ("http2.response_closed.complete", ("return_value",), "NoneType"),
]

H2_DISCONNECT: list[Event] = [
    *CONNECT,
    ("http2.send_connection_init.started", ("request",), None),
    ("http2.send_connection_init.complete", ("return_value",), "NoneType"),
    ("http2.send_request_headers.started", ("request", "stream_id"), None),
    ("http2.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http2.send_request_body.started", ("request", "stream_id"), None),
    ("http2.send_request_body.complete", ("return_value",), "NoneType"),
    ("http2.receive_response_headers.started", ("request", "stream_id"), None),
    ("http2.receive_remote_settings.started", (), None),
    ("http2.receive_remote_settings.complete", ("return_value",), "RemoteSettingsChanged"),
    ("http2.receive_response_headers.failed", ("exception",), None),
    ("http2.response_closed.started", ("stream_id",), None),
    ("http2.response_closed.complete", ("return_value",), "NoneType"),
]

PROXY_FORWARD: list[Event] = [
    (
        "connection.connect_tcp.started",
        ("host", "local_address", "port", "socket_options", "timeout"),
        None,
    ),
    ("connection.connect_tcp.complete", ("return_value",), "MockStream"),
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

PROXY_TUNNEL: list[Event] = [
    (
        "connection.connect_tcp.started",
        ("host", "local_address", "port", "socket_options", "timeout"),
        None,
    ),
    ("connection.connect_tcp.complete", ("return_value",), "MockStream"),
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("proxy.start_tls.started", ("server_hostname", "ssl_context", "timeout"), None),
    ("proxy.start_tls.complete", ("return_value",), "MockStream"),
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

SOCKS5: list[Event] = [
    ("socks.connect_tcp.started", ("host", "port", "timeout"), None),
    ("socks.connect_tcp.complete", ("return_value",), "MockStream"),
    ("socks.setup_socks5_connection.started", ("auth", "host", "port", "stream"), None),
    ("socks.setup_socks5_connection.complete", ("return_value",), "MockStream"),
    ("http11.send_request_headers.started", ("request",), None),
    ("http11.send_request_headers.complete", ("return_value",), "NoneType"),
    ("http11.send_request_body.started", ("request",), None),
    ("http11.send_request_body.complete", ("return_value",), "NoneType"),
    ("http11.receive_response_headers.started", ("request",), None),
    ("http11.receive_response_headers.complete", ("return_value",), "(bytes, int, bytes, list)"),
    ("http11.receive_response_body.started", ("request",), None),
    ("http11.receive_response_body.complete", ("return_value",), "NoneType"),
    ("http11.response_closed.started", (), None),
    ("http11.response_closed.complete", ("return_value",), "NoneType"),
]

OK = [b"HTTP/1.1 200 OK\r\n", b"Content-Type: plain/text\r\n", b"Content-Length: 13\r\n", b"\r\n"]
OK = [*OK, b"Hello, world!"]
CHUNKED = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n"]


def _h2_frames(answer: bool = True) -> list[bytes]:
    """A server's preface, and (``answer``) its response to stream 1, as h2 builds them."""
    client = h2_connection.H2Connection(h2_config.H2Configuration(client_side=True))
    client.initiate_connection()
    server = h2_connection.H2Connection(h2_config.H2Configuration(client_side=False))
    server.initiate_connection()
    frames = [server.data_to_send()]
    if answer:
        request = [(":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "e")]
        client.send_headers(1, request, end_stream=True)
        server.receive_data(client.data_to_send())
        server.send_headers(1, [(b":status", b"200"), (b"content-type", b"plain/text")])
        server.send_data(1, b"hello", end_stream=True)
        frames.append(server.data_to_send())
    return frames


# name -> (chunks the server sends, http2, method, body, close the response unread, expected)
SCENARIOS: dict[str, tuple[list[bytes], bool, str, bytes | None, bool, list[Event]]] = {
    "lean-get": (OK, False, "GET", None, False, LEAN_GET),
    "chunked-get": (CHUNKED, False, "GET", None, False, CHUNKED_GET),
    "post": (OK, False, "POST", b"abc", False, POST),
    "closed-early": (OK, False, "GET", None, True, CLOSED_EARLY),
    "disconnect": ([], False, "GET", None, False, DISCONNECT),
    "no-content": ([b"HTTP/1.1 204 No Content\r\n\r\n"], False, "GET", None, False, NO_CONTENT),
    "h2-get": (_h2_frames(), True, "GET", None, False, H2_GET),
    "h2-post": (_h2_frames(), True, "POST", b"abc", False, H2_POST),
    "h2-closed-early": (_h2_frames(), True, "GET", None, True, H2_CLOSED_EARLY),
    "h2-disconnect": (_h2_frames(answer=False), True, "GET", None, False, H2_DISCONNECT),
}


def _kind(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(type(item).__name__ for item in value) + ")"
    return type(value).__name__


def _record(events: list[Event], name: str, info: dict[str, typing.Any]) -> None:
    kind = _kind(info["return_value"]) if "return_value" in info else None
    events.append((name, tuple(sorted(info)), kind))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sync_trace_events_are_httpcores(scenario: str) -> None:
    """The sync pool reports the events httpcore 1.0.9 reports for the same exchange."""
    chunks, http2, method, body, close_early, expected = SCENARIOS[scenario]
    events: list[Event] = []
    backend = netbackend_mock.MockBackend(list(chunks), http2=http2)
    extensions = {"trace": lambda name, info: _record(events, name, info)}
    with httptransport.ConnectionPool(network_backend=backend, http2=http2) as pool:
        try:
            with pool.stream(
                method, "https://example.com/", content=body, extensions=extensions
            ) as response:
                if not close_early:
                    response.read()
        except httptransport.RemoteProtocolError:
            assert not chunks or len(chunks) == 1
    assert events == expected


@pytest.mark.anyio
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_async_trace_events_are_httpcores(scenario: str) -> None:
    """The async pool reports the events httpcore 1.0.9 reports for the same exchange."""
    chunks, http2, method, body, close_early, recorded = SCENARIOS[scenario]
    # (httpcore's async mock stream is AsyncMockStream, as ours is)
    expected = [(n, k, "AsyncMockStream" if t == "MockStream" else t) for n, k, t in recorded]
    events: list[Event] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        _record(events, name, info)

    backend = netbackend_mock.AsyncMockBackend(list(chunks), http2=http2)
    async with httptransport.AsyncConnectionPool(network_backend=backend, http2=http2) as pool:
        try:
            async with pool.stream(
                method, "https://example.com/", content=body, extensions={"trace": trace}
            ) as response:
                if not close_early:
                    await response.aread()
        except httptransport.RemoteProtocolError:
            assert not chunks or len(chunks) == 1
    assert events == expected


ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
OK_2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SOCKS5_GRANTED = [b"\x05\x00", b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"]

# name -> (pool class name, proxy URL, chunks the server sends, request URL, expected)
PROXIED: dict[str, tuple[str, str, list[bytes], str, list[Event]]] = {
    "forward": (
        "HTTPProxy",
        "http://proxy.test:8080",
        [OK_2],
        "http://example.com/",
        PROXY_FORWARD,
    ),
    "tunnel": (
        "HTTPProxy",
        "http://proxy.test:8080",
        [ESTABLISHED, OK_2],
        "https://example.com/",
        PROXY_TUNNEL,
    ),
    "socks5": (
        "SOCKSProxy",
        "socks5://proxy.test:1080",
        [*SOCKS5_GRANTED, OK_2],
        "http://example.com/",
        SOCKS5,
    ),
}


@pytest.mark.parametrize("scenario", PROXIED)
def test_proxy_trace_events_are_httpcores(scenario: str) -> None:
    """Through HTTP and SOCKS proxies the events are httpcore 1.0.9's too: the connect to
    the proxy, the CONNECT exchange or the SOCKS setup, TLS to the origin."""
    pool_class, proxy_url, chunks, url, expected = PROXIED[scenario]
    if pool_class == "SOCKSProxy":
        pytest.importorskip("socksio")
    events: list[Event] = []
    hosts: list[object] = []

    def trace(name: str, info: dict[str, typing.Any]) -> None:
        _record(events, name, info)
        if name.endswith("connect_tcp.started"):
            hosts.append((info["host"], info["port"]))

    backend = netbackend_mock.MockBackend(list(chunks))
    pool = getattr(httptransport, pool_class)(proxy_url, network_backend=backend)
    with pool:
        response = pool.request("GET", url, extensions={"trace": trace})
    assert response.content == b"ok"
    assert events == expected
    assert hosts == [("proxy.test", 8080 if scenario != "socks5" else 1080)]
