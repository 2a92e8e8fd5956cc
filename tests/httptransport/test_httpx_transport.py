"""httptransport.httpx: real httpx clients through our transports, against loopback servers.

Sync tests use ``httpx.Client`` with :class:`HTTPTransport`; async ones (asyncio and trio)
``httpx.AsyncClient`` with :class:`AsyncHTTPTransport`. Servers: the threaded h11 server
(plain and TLS), hypercorn for HTTP/2, pproxy for proxies; byte-exact failures use stub
backends. Every timeout here is a real one that expires because the peer never answers.
"""

from __future__ import annotations

import importlib.util
import socket
import ssl
import sys
import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import httpx
import pytest

import httptransport
from httptransport import AsyncNetworkBackend, AsyncNetworkStream, NetworkBackend, NetworkStream
from httptransport._httpx import httpx_error
from httptransport.httpx import AsyncHTTPTransport, HTTPTransport
from netbackend_base import BackendNotFoundError, find_backend


def _load_servers() -> typing.Any:
    name = "_httptransport_test_pproxy_server"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent / "proxies" / "pproxy_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


servers = _load_servers()

USER, PASSWORD = "alice", "s3cret"
TIMEOUT = httpx.Timeout(5.0)
HTTPX_VERSION = tuple(int(part) for part in httpx.__version__.split(".")[:2])
IDLE_POOL = "Requests: 0 active, 0 queued"
HEAD_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"


def _no_active_request(pool: object) -> bool:
    return IDLE_POOL in repr(pool)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture
def trusted_ca(monkeypatch: pytest.MonkeyPatch, tls_ca: typing.Any, tmp_path: Path) -> None:
    """Make the test CA the one httpx's default context trusts (``SSL_CERT_FILE``)."""
    pem = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture(scope="module")
def http_proxy() -> Iterator[typing.Any]:
    """An HTTP proxy without authentication."""
    pytest.importorskip("pproxy")
    with servers.running_proxy("http") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def auth_proxy() -> Iterator[typing.Any]:
    """An HTTP proxy that demands Basic credentials."""
    pytest.importorskip("pproxy")
    with servers.running_proxy("http", auth=f"{USER}:{PASSWORD}") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def socks_proxy() -> Iterator[typing.Any]:
    """A SOCKS5 proxy without authentication."""
    pytest.importorskip("pproxy")
    pytest.importorskip("socksio")
    with servers.running_proxy("socks5") as proxy:
        yield proxy


@pytest.fixture
def needs_backend(request: pytest.FixtureRequest) -> None:
    """Skip unless a network backend for this test's context (sync, or its event loop) is
    installed; the server fixtures do the same for the tests that use them."""
    if request.node.get_closest_marker("anyio") is not None:
        context = str(request.getfixturevalue("anyio_backend"))
    else:
        context = "sync"
    try:
        find_backend(context)
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def full_listener(needs_backend: None) -> Iterator[int]:
    """A port whose accept queue is full: a new connection's SYN is dropped, so its
    connect times out (Linux: ``listen(0)`` queues one connection, held here)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port)):
            yield port


@pytest.fixture
def closed_port(needs_backend: None) -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- stub backends: byte scripts that end in an error -----------------------------------


class ScriptStream(NetworkStream):
    """Replays ``chunks`` to reads, then raises ``error`` (or reports EOF)."""

    def __init__(self, chunks: list[bytes], error: Exception | None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.error is not None:
            raise self.error
        return b""

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class ScriptBackend(NetworkBackend):
    """Each connection replays the script; ``connect_error`` fails the connect instead."""

    def __init__(
        self,
        chunks: list[bytes],
        error: Exception | None = None,
        connect_error: Exception | None = None,
    ) -> None:
        self.chunks = chunks
        self.error = error
        self.connect_error = connect_error
        self.streams: list[ScriptStream] = []

    def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> NetworkStream:
        if self.connect_error is not None:
            raise self.connect_error
        stream = ScriptStream(self.chunks, self.error)
        self.streams.append(stream)
        return stream


class AsyncScriptStream(AsyncNetworkStream):
    """Replays ``chunks`` to reads, then raises ``error`` (or reports EOF)."""

    def __init__(self, chunks: list[bytes], error: Exception | None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await anyio.lowlevel.checkpoint()
        if self.chunks:
            return self.chunks.pop(0)
        if self.error is not None:
            raise self.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await anyio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self.closed = True


class AsyncScriptBackend(AsyncNetworkBackend):
    """Each connection replays the script; ``connect_error`` fails the connect instead."""

    def __init__(
        self,
        chunks: list[bytes],
        error: Exception | None = None,
        connect_error: Exception | None = None,
    ) -> None:
        self.chunks = chunks
        self.error = error
        self.connect_error = connect_error
        self.streams: list[AsyncScriptStream] = []

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> AsyncNetworkStream:
        if self.connect_error is not None:
            raise self.connect_error
        stream = AsyncScriptStream(self.chunks, self.error)
        self.streams.append(stream)
        return stream


# -- the module itself ----------------------------------------------------------------


def test_public_names() -> None:
    """httptransport.httpx exports exactly the two transports, as httpx base transports."""
    import httptransport.httpx as module

    assert module.__all__ == ("AsyncHTTPTransport", "HTTPTransport")
    assert issubclass(HTTPTransport, httpx.BaseTransport)
    assert issubclass(AsyncHTTPTransport, httpx.AsyncBaseTransport)


def test_import_without_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without httpx, importing httptransport.httpx raises ImportError naming the extra."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "httptransport.httpx")
    monkeypatch.delitem(sys.modules, "httptransport._httpx")
    with pytest.raises(ImportError, match=r"pip install httptransport\[httpx\]") as info:
        importlib.import_module("httptransport.httpx")
    assert isinstance(info.value.__cause__, ImportError)


MAPPING = [
    (httptransport.ConnectTimeout, httpx.ConnectTimeout),
    (httptransport.ReadTimeout, httpx.ReadTimeout),
    (httptransport.WriteTimeout, httpx.WriteTimeout),
    (httptransport.PoolTimeout, httpx.PoolTimeout),
    (httptransport.TimeoutException, httpx.TimeoutException),
    (httptransport.ConnectError, httpx.ConnectError),
    (httptransport.ReadError, httpx.ReadError),
    (httptransport.WriteError, httpx.WriteError),
    (httptransport.NetworkError, httpx.NetworkError),
    (httptransport.LocalProtocolError, httpx.LocalProtocolError),
    (httptransport.RemoteProtocolError, httpx.RemoteProtocolError),
    (httptransport.ProtocolError, httpx.ProtocolError),
    (httptransport.ProxyError, httpx.ProxyError),
    (httptransport.UnsupportedProtocol, httpx.UnsupportedProtocol),
]


@pytest.mark.parametrize(("ours", "theirs"), MAPPING, ids=[o.__name__ for o, _ in MAPPING])
def test_exception_table(ours: type[Exception], theirs: type[Exception]) -> None:
    """Each pool exception becomes exactly the httpx exception httpx's transport raises."""
    mapped = httpx_error(ours("the message"))
    assert type(mapped) is theirs
    assert str(mapped) == "the message"


def test_exception_table_subclass_and_unknown() -> None:
    """A subclass maps as its nearest known base; an empty message becomes the class name;
    unknown exceptions (and ConnectionNotAvailable, internal to the pool) have no mapping."""

    class Custom(httptransport.ReadTimeout):
        pass

    mapped = httpx_error(Custom())
    assert type(mapped) is httpx.ReadTimeout
    assert str(mapped) == "Custom"
    assert httpx_error(ValueError("x")) is None
    assert httpx_error(httptransport.ConnectionNotAvailable()) is None


def test_constructor_rejects_no_protocol() -> None:
    """http1=False with http2=False is refused, as by httpx's transport."""
    with pytest.raises(ValueError):
        HTTPTransport(http1=False, http2=False)
    with pytest.raises(ValueError):
        AsyncHTTPTransport(http1=False, http2=False)


@pytest.mark.parametrize("proxy", ["ftp://127.0.0.1:21", "socks4://127.0.0.1:1080"])
def test_proxy_scheme_httpx_rejects(proxy: str) -> None:
    """A proxy scheme httpx does not accept is refused with httpx's ValueError."""
    with pytest.raises(ValueError, match="Unknown scheme for proxy URL"):
        HTTPTransport(proxy=proxy)


def test_settings_reach_the_pool() -> None:
    """limits, uds, local_address and socket_options reach the pool's connections."""
    netbackend_mock = pytest.importorskip("netbackend_mock")
    backend = netbackend_mock.MockBackend([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    option = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    transport = HTTPTransport(
        limits=httpx.Limits(max_connections=3, max_keepalive_connections=1, keepalive_expiry=9),
        uds="/run/some.sock",
        socket_options=[option],
        network_backend=backend,
    )
    with httpx.Client(transport=transport) as client:
        assert client.get("http://example.org/").text == "ok"
    [call] = backend.connect_calls
    assert call.kind == "unix"
    assert call.path == "/run/some.sock"
    assert call.socket_options == (option,)
    pool = transport.pool
    assert (pool._max_connections, pool._max_keepalive_connections) == (3, 1)
    assert pool._keepalive_expiry == 9

    backend = netbackend_mock.MockBackend([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    transport = HTTPTransport(local_address="127.0.0.1", network_backend=backend)
    with httpx.Client(transport=transport) as client:
        assert client.get("http://example.org/").text == "ok"
    assert backend.connect_calls[0].local_address == "127.0.0.1"


def test_default_limits_are_httpx_defaults() -> None:
    """Without limits, the pool gets httpx's defaults: 100 connections, 20 kept alive, 5 s."""
    pool = HTTPTransport().pool
    assert (pool._max_connections, pool._max_keepalive_connections) == (100, 20)
    assert pool._keepalive_expiry == 5.0


# -- TLS context ----------------------------------------------------------------------


def test_verify_context_is_used_as_is() -> None:
    """A context passed as verify is the one TLS uses, with the request's host as SNI."""
    netbackend_mock = pytest.importorskip("netbackend_mock")
    backend = netbackend_mock.MockBackend([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"])
    context = ssl.create_default_context()
    with httpx.Client(transport=HTTPTransport(verify=context, network_backend=backend)) as client:
        assert client.get("https://example.org/").status_code == 200
    [stream] = backend.streams
    assert stream.ssl_context is context
    assert stream.server_hostname == "example.org"


def test_own_context_verifies_by_default() -> None:
    """With verify=True the context httpx builds requires certificates and checks names;
    with verify=False it checks neither."""
    netbackend_mock = pytest.importorskip("netbackend_mock")
    for verify, mode, check in ((True, ssl.CERT_REQUIRED, True), (False, ssl.CERT_NONE, False)):
        backend = netbackend_mock.MockBackend([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])
        transport = HTTPTransport(verify=verify, network_backend=backend)
        with httpx.Client(transport=transport) as client:
            client.get("https://example.org/")
        context = backend.streams[0].ssl_context
        assert context is not None
        assert context.verify_mode == mode
        assert context.check_hostname is check


def test_https_trusts_the_environment_ca(tls_server: typing.Any, trusted_ca: None) -> None:
    """verify=True with trust_env reads SSL_CERT_FILE, as httpx does; trust_env=False not."""
    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        response = client.get(tls_server.url("/"))
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    with (
        httpx.Client(transport=HTTPTransport(trust_env=False), timeout=TIMEOUT) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED") as info,
    ):
        client.get(tls_server.url("/"))
    assert isinstance(info.value.__cause__, httptransport.ConnectError)


def test_verify_false_skips_verification(tls_server: typing.Any) -> None:
    """verify=False talks to a server whose CA nobody trusts."""
    with httpx.Client(transport=HTTPTransport(verify=False), timeout=TIMEOUT) as client:
        assert client.get(tls_server.url("/")).text == "Hello, world!"


# -- HTTP/1.1 -------------------------------------------------------------------------


def test_get(server: typing.Any) -> None:
    """A GET returns status, reason, version, headers and body; a second reuses the connection."""
    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        response = client.get(server.url("/"))
        assert response.status_code == 200
        assert response.reason_phrase == "OK"
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-length"] == "13"
        assert response.text == "Hello, world!"
        assert client.get(server.url("/")).text == "Hello, world!"
    assert server.connections_accepted == 1


@pytest.mark.anyio
async def test_async_get(server: typing.Any) -> None:
    """An async GET returns the response; a second reuses the connection."""
    async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=TIMEOUT) as client:
        response = await client.get(server.url("/"))
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert response.text == "Hello, world!"
        assert (await client.get(server.url("/"))).text == "Hello, world!"
    assert server.connections_accepted == 1


def test_request_target_and_headers_as_sent(server: typing.Any) -> None:
    """The raw path with its query is the target; raw headers keep order and repeats."""
    headers = [("X-Dup", "1"), ("X-Dup", "2"), ("X-Other", "a b")]
    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        client.get(server.url("/p%2Fq?a=1&b=%20x"), headers=headers)
    request = server.requests[-1]
    assert request.target == b"/p%2Fq?a=1&b=%20x"
    assert (b"host", f"127.0.0.1:{server.port}".encode()) in request.headers
    sent = [(k, v) for k, v in request.headers if k.startswith(b"x-")]
    assert sent == [(b"x-dup", b"1"), (b"x-dup", b"2"), (b"x-other", b"a b")]


def test_request_bodies(server: typing.Any) -> None:
    """Bytes bodies go with Content-Length, generator bodies chunked; the server gets both."""

    def parts() -> Iterator[bytes]:
        yield b"chunk one, "
        yield b"chunk two"

    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        assert client.post(server.url("/echo"), content=b"payload").content == b"payload"
        response = client.post(server.url("/echo"), content=parts())
        assert response.content == b"chunk one, chunk two"
    assert (b"transfer-encoding", b"chunked") in server.requests[-1].headers


@pytest.mark.anyio
async def test_async_request_bodies(server: typing.Any) -> None:
    """Async generator bodies are sent chunked and echoed back whole."""

    async def parts() -> AsyncIterator[bytes]:
        yield b"async one, "
        yield b"async two"

    async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=TIMEOUT) as client:
        response = await client.post(server.url("/echo"), content=parts())
    assert response.content == b"async one, async two"


def test_streaming_response(server: typing.Any) -> None:
    """A streamed 1 MiB body arrives whole through iter_bytes, and chunked bodies decode."""
    transport = HTTPTransport()
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        with client.stream("GET", server.url("/big")) as response:
            assert not _no_active_request(transport.pool)
            total = sum(len(chunk) for chunk in response.iter_bytes())
        assert total == 1024 * 1024
        assert _no_active_request(transport.pool)
        with client.stream("GET", server.url("/chunked")) as response:
            assert b"".join(response.iter_raw()) == b"Hello, world!"


@pytest.mark.anyio
async def test_async_streaming_response(server: typing.Any) -> None:
    """An async streamed 1 MiB body arrives whole, and the connection goes back for reuse."""
    transport = AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        async with client.stream("GET", server.url("/big")) as response:
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
        assert total == 1024 * 1024
        assert _no_active_request(transport.pool)
        assert (await client.get(server.url("/"))).text == "Hello, world!"
    assert server.connections_accepted == 1


def test_unread_stream_closed_drops_the_connection(server: typing.Any) -> None:
    """Leaving a streamed response unread drops its connection; the pool carries on."""
    transport = HTTPTransport()
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        with client.stream("GET", server.url("/big")):
            pass
        assert transport.pool.connections == []
        assert _no_active_request(transport.pool)
        assert client.get(server.url("/")).text == "Hello, world!"
    assert server.connections_accepted == 2


@pytest.mark.anyio
async def test_async_unread_stream_closed_drops_the_connection(server: typing.Any) -> None:
    """Leaving an async streamed response unread drops its connection."""
    transport = AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        async with client.stream("GET", server.url("/big")):
            pass
        assert transport.pool.connections == []
        assert _no_active_request(transport.pool)


def test_extensions_reach_the_pool(server: typing.Any) -> None:
    """httpx's request extensions (here the trace callback) reach the pool unchanged."""
    events: list[str] = []
    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        client.get(server.url("/"), extensions={"trace": lambda name, info: events.append(name)})
    assert events[0] == "connection.connect_tcp.started"
    assert "http11.send_request_headers.started" in events
    assert events[-1] == "http11.response_closed.complete"


# -- HTTP/2 ---------------------------------------------------------------------------


def test_http2_over_tls_offers_h2(h2_server: typing.Any, trusted_ca: None) -> None:
    """http2=True: the transport's own context offers h2 through ALPN, and HTTP/2 is spoken."""
    origin = h2_server(tls=True)
    with httpx.Client(transport=HTTPTransport(http2=True), timeout=TIMEOUT) as client:
        response = client.get(origin.url("/"))
        assert response.http_version == "HTTP/2"
        assert response.text == "hello"
        assert client.post(origin.url("/echo"), content=b"two").text == "two"


@pytest.mark.anyio
async def test_async_http2_over_tls_offers_h2(h2_server: typing.Any, trusted_ca: None) -> None:
    """Async, http2=True: concurrent requests share one HTTP/2 connection negotiated by ALPN."""
    origin = h2_server(tls=True)
    transport = AsyncHTTPTransport(http2=True)
    versions: list[str] = []
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:

        async def fetch() -> None:
            response = await client.get(origin.url("/bytes/100000"))
            assert len(response.content) == 100000
            versions.append(response.http_version)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(fetch)
        assert len(transport.pool.connections) == 1
    assert versions == ["HTTP/2"] * 5


def test_http1_only_context_offers_http11(h2_server: typing.Any, trusted_ca: None) -> None:
    """Without http2, the transport's context offers http/1.1 only, so HTTP/1.1 is spoken."""
    origin = h2_server(tls=True)
    with httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client:
        assert client.get(origin.url("/")).http_version == "HTTP/1.1"


def test_http2_only_over_tls(h2_server: typing.Any, trusted_ca: None) -> None:
    """http1=False, http2=True over TLS offers h2 alone, and HTTP/2 is spoken."""
    origin = h2_server(tls=True)
    transport = HTTPTransport(http1=False, http2=True)
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(origin.url("/")).http_version == "HTTP/2"


def test_caller_context_offers_h2_as_with_httpx(
    h2_server: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """A context passed as verify offers h2 when http2=True, and http/1.1 alone otherwise,
    as with httpx's own transport (httpcore sets ALPN on it before each handshake)."""
    origin = h2_server(tls=True)
    for http2, version in [(True, "HTTP/2"), (False, "HTTP/1.1")]:
        transport = HTTPTransport(verify=client_ssl_context, http2=http2)
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            assert client.get(origin.url("/")).http_version == version


def test_h2c_prior_knowledge(h2_server: typing.Any) -> None:
    """http1=False, http2=True speaks HTTP/2 over cleartext (h2c) with prior knowledge."""
    origin = h2_server(tls=False)
    transport = HTTPTransport(http1=False, http2=True)
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        response = client.get(origin.url("/host"))
    assert response.http_version == "HTTP/2"
    assert response.text == f"127.0.0.1:{origin.port}"


@pytest.mark.anyio
async def test_async_h2c_prior_knowledge(h2_server: typing.Any) -> None:
    """Async h2c: a streamed HTTP/2 body arrives whole."""
    origin = h2_server(tls=False)
    transport = AsyncHTTPTransport(http1=False, http2=True)
    async with (
        httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client,
        client.stream("GET", origin.url("/bytes/300000")) as response,
    ):
        assert response.http_version == "HTTP/2"
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
    assert total == 300000


# -- proxies --------------------------------------------------------------------------


def test_http_proxy_forwards_http(server: typing.Any, http_proxy: typing.Any) -> None:
    """proxy as a URL string: an http:// request is forwarded by the proxy to the origin."""
    transport = HTTPTransport(proxy=f"http://127.0.0.1:{http_proxy.port}")
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(server.url("/")).text == "Hello, world!"
    assert server.connections_accepted == 1


@pytest.mark.anyio
async def test_async_http_proxy_tunnels_https(
    tls_server: typing.Any, http_proxy: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """proxy as an httpx.URL: an https:// request goes through a CONNECT tunnel, reused."""
    transport = AsyncHTTPTransport(
        verify=client_ssl_context, proxy=httpx.URL(f"http://127.0.0.1:{http_proxy.port}")
    )
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        for _ in range(2):
            assert (await client.get(tls_server.url("/"))).text == "Hello, world!"
    assert tls_server.connections_accepted == 1


@pytest.mark.parametrize("where", ["url", "httpx.Proxy"])
def test_proxy_credentials(
    server: typing.Any,
    tls_server: typing.Any,
    auth_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
    where: str,
) -> None:
    """Credentials in the proxy URL or in httpx.Proxy(auth=...) open both forwarding and
    tunnels, and never reach the origin."""
    proxy: str | httpx.Proxy
    if where == "url":
        proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_proxy.port}"
    else:
        proxy = httpx.Proxy(
            f"http://127.0.0.1:{auth_proxy.port}",
            auth=(USER, PASSWORD),
            headers={"X-Proxy-Only": "yes"},
        )
    transport = HTTPTransport(verify=client_ssl_context, proxy=proxy)
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(server.url("/")).text == "Hello, world!"
        response = client.get(tls_server.url("/headers"))
    assert response.status_code == 200
    assert b"proxy-authorization" not in response.content.lower()
    assert b"x-proxy-only" not in response.content.lower()


def test_proxy_refusal_is_httpx_proxy_error(
    server: typing.Any,
    tls_server: typing.Any,
    auth_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """Without credentials: a refused tunnel is httpx.ProxyError naming 407; a forwarded
    request gets the proxy's 407 response."""
    transport = HTTPTransport(
        verify=client_ssl_context, proxy=f"http://127.0.0.1:{auth_proxy.port}"
    )
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        with pytest.raises(httpx.ProxyError, match="407") as info:
            client.get(tls_server.url("/"))
        assert isinstance(info.value.__cause__, httptransport.ProxyError)
        assert client.get(server.url("/")).status_code == 407
        assert _no_active_request(transport.pool)
    assert tls_server.connections_accepted == 0


@pytest.mark.parametrize(
    "scheme",
    [
        "socks5",
        pytest.param(
            "socks5h",
            marks=pytest.mark.skipif(
                HTTPX_VERSION < (0, 28), reason="httpx 0.27 accepts no socks5h proxy URL"
            ),
        ),
    ],
)
def test_socks_proxy(
    scheme: str,
    server: typing.Any,
    tls_server: typing.Any,
    socks_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """A socks5:// or socks5h:// proxy carries http:// and https:// requests."""
    transport = HTTPTransport(
        verify=client_ssl_context, proxy=f"{scheme}://127.0.0.1:{socks_proxy.port}"
    )
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        assert client.get(server.url("/")).text == "Hello, world!"
        assert client.get(tls_server.url("/")).text == "Hello, world!"


@pytest.mark.anyio
async def test_async_socks_proxy(
    server: typing.Any, socks_proxy: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """An async client reaches the origin through a SOCKS5 proxy given as httpx.Proxy."""
    proxy = httpx.Proxy(f"socks5://127.0.0.1:{socks_proxy.port}")
    transport = AsyncHTTPTransport(verify=client_ssl_context, proxy=proxy)
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        assert (await client.get(server.url("/"))).text == "Hello, world!"


# -- timeouts -------------------------------------------------------------------------


def test_connect_timeout(full_listener: int) -> None:
    """A connect that gets no answer within the connect timeout is httpx.ConnectTimeout."""
    timeout = httpx.Timeout(5.0, connect=0.2)
    with (
        httpx.Client(transport=HTTPTransport(), timeout=timeout) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(f"http://127.0.0.1:{full_listener}/")
    assert isinstance(info.value.__cause__, httptransport.ConnectTimeout)


@pytest.mark.anyio
async def test_async_connect_timeout(full_listener: int) -> None:
    """Async: a connect that gets no answer in time is httpx.ConnectTimeout."""
    timeout = httpx.Timeout(5.0, connect=0.2)
    async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=timeout) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(f"http://127.0.0.1:{full_listener}/")


def test_read_timeout(server: typing.Any) -> None:
    """A server that never answers is httpx.ReadTimeout after the read timeout; the pool
    is left with no request."""
    transport = HTTPTransport()
    timeout = httpx.Timeout(5.0, read=0.2)
    with httpx.Client(transport=transport, timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout) as info:
            client.get(server.url("/hang"))
        assert isinstance(info.value.__cause__, httptransport.ReadTimeout)
        assert _no_active_request(transport.pool)
        assert transport.pool.connections == []


@pytest.mark.anyio
async def test_async_read_timeout_while_streaming(server: typing.Any) -> None:
    """A body that stops arriving raises httpx.ReadTimeout from the stream, and the
    connection is dropped."""
    transport = AsyncHTTPTransport()
    timeout = httpx.Timeout(5.0, read=0.2)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        async with client.stream("GET", server.url("/partial")) as response:
            with pytest.raises(httpx.ReadTimeout):
                await response.aread()
        assert transport.pool.connections == []
        assert _no_active_request(transport.pool)


def test_read_timeout_while_streaming(server: typing.Any) -> None:
    """Sync: a body that stops arriving raises httpx.ReadTimeout from iter_bytes."""
    transport = HTTPTransport()
    timeout = httpx.Timeout(5.0, read=0.2)
    with httpx.Client(transport=transport, timeout=timeout) as client:
        with client.stream("GET", server.url("/partial")) as response:
            chunks = response.iter_bytes()
            assert next(chunks) == b"0123456789"
            with pytest.raises(httpx.ReadTimeout):
                next(chunks)
        assert _no_active_request(transport.pool)


def _endless_body() -> Iterator[bytes]:
    chunk = b"x" * (1024 * 1024)
    for _ in range(1024):  # 1 GiB at most: the socket buffers fill long before
        yield chunk


def test_write_timeout(needs_backend: None) -> None:
    """A peer that never reads makes a large upload httpx.WriteTimeout."""
    with servers.silent_listener() as port:
        timeout = httpx.Timeout(5.0, write=0.2)
        with (
            httpx.Client(transport=HTTPTransport(), timeout=timeout) as client,
            pytest.raises(httpx.WriteTimeout) as info,
        ):
            client.post(f"http://127.0.0.1:{port}/", content=_endless_body())
    assert isinstance(info.value.__cause__, httptransport.WriteTimeout)


class EndlessBody(httpx.AsyncByteStream):
    """1 MiB chunks, 1 GiB at most. An iterator object rather than an async generator:
    the pool abandons a body it cannot send, and on trio an abandoned async generator
    (httpx wraps ``content=`` async iterables in one) is reported as a ResourceWarning
    when collected, as it would be with httpx's own transport."""

    def __init__(self) -> None:
        self.left = 1024

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        return b"x" * (1024 * 1024)


@pytest.mark.anyio
async def test_async_write_timeout(needs_backend: None) -> None:
    """Async: a peer that never reads makes a large upload httpx.WriteTimeout."""
    with servers.silent_listener() as port:
        timeout = httpx.Timeout(5.0, write=0.2)
        async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=timeout) as client:
            request = httpx.Request(
                "POST",
                f"http://127.0.0.1:{port}/",
                headers={"Host": f"127.0.0.1:{port}", "Transfer-Encoding": "chunked"},
                stream=EndlessBody(),
                extensions={"timeout": timeout.as_dict()},
            )
            with pytest.raises(httpx.WriteTimeout):
                await client.send(request)


def test_pool_timeout(server: typing.Any) -> None:
    """With every connection busy, a request waits the pool timeout, then httpx.PoolTimeout."""
    transport = HTTPTransport(limits=httpx.Limits(max_connections=1))
    timeout = httpx.Timeout(5.0, pool=0.1)
    with httpx.Client(transport=transport, timeout=timeout) as client:
        with client.stream("GET", server.url("/big")):
            with pytest.raises(httpx.PoolTimeout) as info:
                client.get(server.url("/"))
            assert isinstance(info.value.__cause__, httptransport.PoolTimeout)
        assert client.get(server.url("/")).status_code == 200


@pytest.mark.anyio
async def test_async_pool_timeout(server: typing.Any) -> None:
    """Async: a request that finds the only connection busy fails with httpx.PoolTimeout."""
    transport = AsyncHTTPTransport(limits=httpx.Limits(max_connections=1))
    timeout = httpx.Timeout(5.0, pool=0.1)
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
        async with client.stream("GET", server.url("/big")):
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url("/"))
        assert _no_active_request(transport.pool)


# -- other errors ---------------------------------------------------------------------


def test_connect_error(closed_port: int) -> None:
    """A refused connection is httpx.ConnectError, chained to ours."""
    with (
        httpx.Client(transport=HTTPTransport(), timeout=TIMEOUT) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(f"http://127.0.0.1:{closed_port}/")
    assert isinstance(info.value.__cause__, httptransport.ConnectError)


@pytest.mark.anyio
async def test_async_connect_error(closed_port: int) -> None:
    """Async: a refused connection is httpx.ConnectError."""
    async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=TIMEOUT) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{closed_port}/")


def test_unsupported_protocol() -> None:
    """A URL scheme the pool cannot speak is httpx.UnsupportedProtocol."""
    transport = HTTPTransport()
    with pytest.raises(httpx.UnsupportedProtocol, match="ftp"):
        transport.handle_request(httpx.Request("GET", "ftp://example.org/"))


def test_local_protocol_error() -> None:
    """A header the pool refuses to send is httpx.LocalProtocolError; the pool is left clean."""
    backend = ScriptBackend([])
    transport = HTTPTransport(network_backend=backend)
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.LocalProtocolError, match="header"),
    ):
        client.get("http://example.org/", headers={"X-Bad": "a\r\nInjected: yes"})
    assert _no_active_request(transport.pool)


@pytest.mark.parametrize(
    ("chunks", "error", "expected"),
    [
        ([b"NOT HTTP\r\n\r\n"], None, httpx.RemoteProtocolError),
        ([b"HTTP/1.1 200 OK\r\n"], httptransport.ReadError("reset"), httpx.ReadError),
        ([], httptransport.ReadError("reset"), httpx.ReadError),
        ([], None, httpx.RemoteProtocolError),
    ],
    ids=["garbage-head", "read-error-mid-head", "read-error-before-head", "closed-before-head"],
)
def test_errors_before_the_response(
    chunks: list[bytes], error: Exception | None, expected: type[Exception]
) -> None:
    """Failures while waiting for the head map to httpx's classes; the pool is left clean."""
    transport = HTTPTransport(network_backend=ScriptBackend(chunks, error))
    with httpx.Client(transport=transport) as client, pytest.raises(expected):
        client.get("http://example.org/")
    assert transport.pool.connections == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httptransport.ReadError("reset"), httpx.ReadError),
        (httptransport.ReadTimeout("slow"), httpx.ReadTimeout),
        (None, httpx.RemoteProtocolError),
    ],
    ids=["read-error", "read-timeout", "closed-mid-body"],
)
def test_errors_while_streaming(error: Exception | None, expected: type[Exception]) -> None:
    """Failures while the body streams are raised from iter_bytes as httpx's classes."""
    transport = HTTPTransport(network_backend=ScriptBackend([HEAD_OK, b"first"], error))
    with httpx.Client(transport=transport) as client:
        with client.stream("GET", "http://example.org/") as response:
            with pytest.raises(expected) as info:
                response.read()
            assert info.value.__cause__ is not None
        assert transport.pool.connections == []
        assert _no_active_request(transport.pool)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httptransport.ReadError("reset"), httpx.ReadError),
        (None, httpx.RemoteProtocolError),
    ],
    ids=["read-error", "closed-mid-body"],
)
async def test_async_errors_while_streaming(
    error: Exception | None, expected: type[Exception]
) -> None:
    """Async: failures while the body streams are raised from aiter_bytes as httpx's."""
    transport = AsyncHTTPTransport(network_backend=AsyncScriptBackend([HEAD_OK, b"first"], error))
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", "http://example.org/") as response:
            with pytest.raises(expected):
                async for _ in response.aiter_bytes():
                    pass
        assert transport.pool.connections == []


@pytest.mark.anyio
async def test_async_connect_failure_from_backend() -> None:
    """A backend's ConnectTimeout is httpx.ConnectTimeout, with the pool left clean."""
    backend = AsyncScriptBackend([], connect_error=httptransport.ConnectTimeout("no answer"))
    transport = AsyncHTTPTransport(network_backend=backend)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectTimeout, match="no answer"):
            await client.get("http://example.org/")
        assert _no_active_request(transport.pool)


def test_unknown_errors_pass_through(server: typing.Any) -> None:
    """An error the table does not know (raised by the request body) reaches the caller as is."""

    def failing() -> Iterator[bytes]:
        yield b"start"
        raise KeyError("from the body")

    transport = HTTPTransport()
    with (
        httpx.Client(transport=transport, timeout=TIMEOUT) as client,
        pytest.raises(KeyError, match="from the body"),
    ):
        client.post(server.url("/echo"), content=failing())
    assert _no_active_request(transport.pool)


# -- cancellation ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancel_mid_body_frees_the_pool(server: typing.Any) -> None:
    """A request cancelled while its body streams leaves no active request and no
    connection in the pool, and the client keeps working."""
    transport = AsyncHTTPTransport()
    got_first = anyio.Event()
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:

        async def fetch() -> None:
            async with client.stream("GET", server.url("/partial")) as response:
                async for _ in response.aiter_raw():
                    got_first.set()  # the next read blocks: the server sends no more

        async with anyio.create_task_group() as tg:
            tg.start_soon(fetch)
            await got_first.wait()
            tg.cancel_scope.cancel()
        assert _no_active_request(transport.pool)
        assert transport.pool.connections == []
        assert (await client.get(server.url("/"))).text == "Hello, world!"


@pytest.mark.anyio
async def test_cancel_waiting_for_head_frees_the_pool(server: typing.Any) -> None:
    """A request cancelled while waiting for the response head leaves the pool clean."""
    transport = AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.get, server.url("/hang"))
            await anyio.to_thread.run_sync(server.hang_started.wait)
            tg.cancel_scope.cancel()
        assert _no_active_request(transport.pool)
        assert transport.pool.connections == []


# -- closing --------------------------------------------------------------------------


def test_close_closes_connections(server: typing.Any) -> None:
    """Closing the client closes the transport's pool: no connection is left."""
    transport = HTTPTransport()
    with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
        client.get(server.url("/"))
        assert len(transport.pool.connections) == 1
    assert transport.pool.connections == []
    with HTTPTransport() as own:
        httpx.Client(transport=own, timeout=TIMEOUT).get(server.url("/"))
        assert len(own.pool.connections) == 1
    assert own.pool.connections == []


@pytest.mark.anyio
async def test_async_close_closes_connections(server: typing.Any) -> None:
    """Closing the async client, or the transport as a context manager, closes the pool."""
    transport = AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
        await client.get(server.url("/"))
        assert len(transport.pool.connections) == 1
    assert transport.pool.connections == []
    async with AsyncHTTPTransport() as own:
        await httpx.AsyncClient(transport=own, timeout=TIMEOUT).get(server.url("/"))
        assert len(own.pool.connections) == 1
    assert own.pool.connections == []
