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


def _phase(name: str, args: tuple[str, ...], returns: str = "NoneType") -> list[Event]:
    """A traced phase that completed: its ``started`` and ``complete`` events."""
    return [(f"{name}.started", args, None), (f"{name}.complete", ("return_value",), returns)]


def _failed(name: str, args: tuple[str, ...]) -> list[Event]:
    """A traced phase that failed: its ``started`` and ``failed`` events."""
    return [(f"{name}.started", args, None), (f"{name}.failed", ("exception",), None)]


TCP_ARGS = ("host", "local_address", "port", "socket_options", "timeout")
TLS_ARGS = ("server_hostname", "ssl_context", "timeout")
H1_HEAD = "(bytes, int, bytes, list)"
H2_ARGS = ("request", "stream_id")

CONNECT: list[Event] = [
    *_phase("connection.connect_tcp", TCP_ARGS, "MockStream"),
    *_phase("connection.start_tls", TLS_ARGS, "MockStream"),
]
H11_SENT = [
    *_phase("http11.send_request_headers", ("request",)),
    *_phase("http11.send_request_body", ("request",)),
]
H11_HEAD = _phase("http11.receive_response_headers", ("request",), H1_HEAD)
H11_BODY = _phase("http11.receive_response_body", ("request",))
H11_CLOSED = _phase("http11.response_closed", ())
H11_EXCHANGE = [*H11_SENT, *H11_HEAD, *H11_BODY, *H11_CLOSED]

LEAN_GET: list[Event] = [*CONNECT, *H11_EXCHANGE]
CHUNKED_GET: list[Event] = [*CONNECT, *H11_EXCHANGE]
POST: list[Event] = [*CONNECT, *H11_EXCHANGE]
NO_CONTENT: list[Event] = [*CONNECT, *H11_EXCHANGE]
CLOSED_EARLY: list[Event] = [*CONNECT, *H11_SENT, *H11_HEAD, *H11_CLOSED]
DISCONNECT: list[Event] = [
    *CONNECT,
    *H11_SENT,
    *_failed("http11.receive_response_headers", ("request",)),
    *H11_CLOSED,
]

H2_SENT = [
    *_phase("http2.send_connection_init", ("request",)),
    *_phase("http2.send_request_headers", H2_ARGS),
    *_phase("http2.send_request_body", H2_ARGS),
]
H2_SETTINGS = _phase("http2.receive_remote_settings", (), "RemoteSettingsChanged")
H2_HEAD = [
    ("http2.receive_response_headers.started", H2_ARGS, None),
    *H2_SETTINGS,
    ("http2.receive_response_headers.complete", ("return_value",), "(int, list)"),
]
H2_CLOSED = _phase("http2.response_closed", ("stream_id",))
H2_GET: list[Event] = [
    *CONNECT,
    *H2_SENT,
    *H2_HEAD,
    *_phase("http2.receive_response_body", H2_ARGS),
    *H2_CLOSED,
]
H2_POST: list[Event] = H2_GET
H2_CLOSED_EARLY: list[Event] = [*CONNECT, *H2_SENT, *H2_HEAD, *H2_CLOSED]
H2_DISCONNECT: list[Event] = [
    *CONNECT,
    *H2_SENT,
    ("http2.receive_response_headers.started", H2_ARGS, None),
    *H2_SETTINGS,
    ("http2.receive_response_headers.failed", ("exception",), None),
    *H2_CLOSED,
]

PROXY_FORWARD: list[Event] = [
    *_phase("connection.connect_tcp", TCP_ARGS, "MockStream"),
    *H11_EXCHANGE,
]
PROXY_TUNNEL: list[Event] = [
    *_phase("connection.connect_tcp", TCP_ARGS, "MockStream"),
    *H11_SENT,
    *H11_HEAD,
    *_phase("proxy.start_tls", TLS_ARGS, "MockStream"),
    *H11_EXCHANGE,
]
SOCKS5: list[Event] = [
    *_phase("socks.connect_tcp", ("host", "port", "timeout"), "MockStream"),
    *_phase("socks.setup_socks5_connection", ("auth", "host", "port", "stream"), "MockStream"),
    *H11_EXCHANGE,
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
