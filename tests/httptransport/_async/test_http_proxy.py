"""HTTP(S) proxies: forwarding, CONNECT tunnels, TLS-in-TLS, auth, refusals, options.

Real proxies come from pproxy (a test dependency) run in a subprocess on 127.0.0.1;
byte-level cases use the mock backend.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import logging
import ssl
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from httptransport import (
    URL,
    AsyncConnectionPool,
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    Origin,
    ProxyError,
)
from httptransport._async import AsyncHTTPProxy
from httptransport._proxy_model import Proxy

netbackend_mock = pytest.importorskip("netbackend_mock")


def _load_servers() -> typing.Any:
    name = "_httptransport_test_pproxy_server"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent.parent / "proxies" / "pproxy_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


servers = _load_servers()

USER, PASSWORD = "alice", "s3cret"
SECRET = base64.b64encode(f"{USER}:{PASSWORD}".encode())
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"
TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
PROXY_WIRED = "proxy" in inspect.signature(AsyncConnectionPool.__init__).parameters


@pytest.fixture(scope="module")
def plain_proxy() -> Iterator[typing.Any]:
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
def tls_proxy(tls_ca: typing.Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[typing.Any]:
    """An HTTP proxy listening with TLS (an ``https://`` proxy)."""
    pytest.importorskip("pproxy")
    pem = tmp_path_factory.mktemp("tls-proxy") / "proxy.pem"
    tls_ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    with servers.running_proxy("http+ssl", certfile=str(pem)) as proxy:
        yield proxy


def _url(proxy: typing.Any, scheme: str = "http", auth: str = "") -> str:
    return f"{scheme}://{auth}127.0.0.1:{proxy.port}"


def _all_closed(backend: typing.Any) -> bool:
    return all(stream.closed for stream in backend.streams)


# -- real proxies -------------------------------------------------------------------


@pytest.mark.anyio
async def test_forward_http_through_real_proxy(server: typing.Any, plain_proxy: typing.Any) -> None:
    """An http:// request is forwarded by the proxy to the origin: it is sent to the
    proxy's port (not the origin's) in absolute form, without a CONNECT, and the
    origin receives it from the proxy in origin form."""
    sent: list[tuple[bytes, bytes, int | None, bytes]] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        if name == "http11.send_request_headers.started":
            url = info["request"].url
            sent.append((info["request"].method, url.host, url.port, url.target))

    extensions = {"timeout": TIMEOUTS, "trace": trace}
    async with AsyncHTTPProxy(_url(plain_proxy)) as pool:
        response = await pool.request("GET", server.url("/"), extensions=extensions)
        peer = response.extensions["network_stream"].get_extra_info("server_addr")
    assert response.status == 200
    assert response.content == b"Hello, world!"
    assert sent == [(b"GET", b"127.0.0.1", plain_proxy.port, server.url("/").encode())]
    assert tuple(peer) == ("127.0.0.1", plain_proxy.port)
    assert plain_proxy.port != server.port
    assert server.connections_accepted == 1
    assert [request.target for request in server.requests] == [b"/"]


@pytest.mark.anyio
async def test_tunnel_https_through_real_proxy(
    tls_server: typing.Any, plain_proxy: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """An https:// request goes through a CONNECT tunnel, with TLS to the origin, reused."""
    async with AsyncHTTPProxy(_url(plain_proxy), ssl_context=client_ssl_context) as pool:
        for _ in range(2):
            response = await pool.request(
                "GET", tls_server.url("/"), extensions={"timeout": TIMEOUTS}
            )
            assert response.content == b"Hello, world!"
    assert tls_server.connections_accepted == 1


@pytest.mark.anyio
async def test_real_proxy_demands_auth_for_tunnel(
    tls_server: typing.Any, auth_proxy: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """Without credentials the tunnel fails with a ProxyError naming 407, and no slot leaks."""
    async with AsyncHTTPProxy(_url(auth_proxy), ssl_context=client_ssl_context) as pool:
        with pytest.raises(ProxyError, match="407"):
            await pool.request("GET", tls_server.url("/"), extensions={"timeout": TIMEOUTS})
        assert pool.connections == []
    assert tls_server.connections_accepted == 0


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["url", "argument"])
async def test_real_proxy_auth_never_reaches_origin(
    tls_server: typing.Any,
    auth_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
    where: str,
) -> None:
    """Credentials from the URL or proxy_auth open the tunnel; the origin never sees them."""
    if where == "url":
        pool = AsyncHTTPProxy(
            _url(auth_proxy, auth=f"{USER}:{PASSWORD}@"), ssl_context=client_ssl_context
        )
    else:
        pool = AsyncHTTPProxy(
            _url(auth_proxy),
            proxy_auth=(USER, PASSWORD),
            proxy_headers={"X-Proxy-Only": "yes"},
            ssl_context=client_ssl_context,
        )
    async with pool:
        response = await pool.request(
            "GET", tls_server.url("/headers"), extensions={"timeout": TIMEOUTS}
        )
    assert response.status == 200
    assert b"proxy-authorization" not in response.content.lower()
    assert b"x-proxy-only" not in response.content.lower()


@pytest.mark.anyio
async def test_real_proxy_auth_forwarding(server: typing.Any, auth_proxy: typing.Any) -> None:
    """A forwarded request carries the credentials; without them the proxy answers 407."""
    async with AsyncHTTPProxy(_url(auth_proxy), proxy_auth=(USER, PASSWORD)) as pool:
        response = await pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
        assert response.content == b"Hello, world!"
    async with AsyncHTTPProxy(_url(auth_proxy)) as pool:
        response = await pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
        assert response.status == 407


@pytest.mark.anyio
async def test_https_proxy_tls_in_tls(
    tls_server: typing.Any,
    server: typing.Any,
    tls_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """Through an https:// proxy: TLS to the proxy, then TLS-in-TLS to the origin."""
    async with AsyncHTTPProxy(
        _url(tls_proxy, "https"),
        ssl_context=client_ssl_context,
        proxy_ssl_context=client_ssl_context,
    ) as pool:
        response = await pool.request("GET", tls_server.url("/"), extensions={"timeout": TIMEOUTS})
        assert response.content == b"Hello, world!"
        response = await pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
        assert response.content == b"Hello, world!"


@pytest.mark.anyio
@pytest.mark.parametrize("proxy_scheme", ["http", "https"])
async def test_http2_to_origin_through_tunnel(
    h2_server: typing.Any,
    plain_proxy: typing.Any,
    tls_proxy: typing.Any,
    tls_ca: typing.Any,
    proxy_scheme: str,
) -> None:
    """Inside a CONNECT tunnel (TLS-in-TLS for an https proxy) the origin speaks HTTP/2."""
    origin = h2_server(tls=True)
    origin_context = ssl.create_default_context()
    tls_ca.configure_trust(origin_context)
    origin_context.set_alpn_protocols(["h2", "http/1.1"])
    proxy_context = ssl.create_default_context()
    tls_ca.configure_trust(proxy_context)
    proxy = plain_proxy if proxy_scheme == "http" else tls_proxy
    async with AsyncHTTPProxy(
        _url(proxy, proxy_scheme),
        ssl_context=origin_context,
        proxy_ssl_context=proxy_context,
        http2=True,
    ) as pool:
        for _ in range(2):
            response = await pool.request("GET", origin.url("/"), extensions={"timeout": TIMEOUTS})
            assert response.extensions["http_version"] == b"HTTP/2"
            assert response.content == b"hello"
        assert len(pool.connections) == 1


@pytest.mark.anyio
async def test_stalled_connect_times_out(server: typing.Any) -> None:
    """A proxy that never answers CONNECT ends in ConnectTimeout, not a hang."""
    with servers.silent_listener() as port:
        pool = AsyncHTTPProxy(f"http://127.0.0.1:{port}")
        async with pool:
            with pytest.raises(ConnectTimeout):
                await pool.request(
                    "GET", "https://127.0.0.1:1/", extensions={"timeout": {"connect": 0.2}}
                )
            assert pool.connections == []


@pytest.mark.anyio
async def test_unreachable_proxy_is_a_connect_error(server: typing.Any) -> None:
    """A proxy that refuses TCP connections gives ConnectError after the retries."""
    with servers.silent_listener() as port:
        pass  # closed again: nothing listens on the port now
    pool = AsyncHTTPProxy(f"http://127.0.0.1:{port}")
    async with pool:
        with pytest.raises(ConnectError):
            await pool.request("GET", "https://127.0.0.1:1/", extensions={"timeout": TIMEOUTS})
        assert pool.connections == []


# -- bytes on the wire (mock backend) -------------------------------------------------


@pytest.mark.anyio
async def test_forward_uses_absolute_form_and_proxy_headers() -> None:
    """Forwarded requests go to the proxy in absolute form with Proxy-Authorization."""
    backend = netbackend_mock.AsyncMockBackend([OK])
    async with AsyncHTTPProxy(
        f"http://{USER}:{PASSWORD}@proxy.test:3128", network_backend=backend
    ) as pool:
        response = await pool.request("GET", "http://example.com/path?q=1")
    assert response.content == b"ok"
    call = backend.connect_calls[0]
    assert (call.host, call.port) == ("proxy.test", 3128)
    written = backend.streams[0].data_written
    assert written.startswith(b"GET http://example.com/path?q=1 HTTP/1.1\r\n")
    assert b"Proxy-Authorization: Basic " + SECRET + b"\r\n" in written
    assert b"Host: example.com\r\n" in written


@pytest.mark.anyio
async def test_connect_tunnel_bytes() -> None:
    """CONNECT carries the proxy headers; the tunnelled request does not; TLS is to the origin."""
    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    async with AsyncHTTPProxy(
        "http://proxy.test:3128",
        proxy_auth=(USER, PASSWORD),
        proxy_headers=[("X-Proxy-Only", "1")],
        network_backend=backend,
    ) as pool:
        response = await pool.request("GET", "https://example.com/")
    assert response.content == b"ok"
    stream = backend.streams[0]
    connect, request = stream.written[0], b"".join(stream.written[1:])
    assert connect.startswith(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n")
    assert b"Proxy-Authorization: Basic " + SECRET in connect
    assert b"X-Proxy-Only: 1" in connect
    assert request.startswith(b"GET / HTTP/1.1\r\n")
    assert b"Proxy-Authorization" not in request
    assert b"X-Proxy-Only" not in request
    assert stream.server_hostname == "example.com"


@pytest.mark.anyio
async def test_https_proxy_tls_to_proxy_then_origin() -> None:
    """An https:// proxy gets its own TLS handshake before the origin's, on one stream."""
    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    proxy_context = ssl.create_default_context()
    async with AsyncHTTPProxy(
        "https://proxy.test", proxy_ssl_context=proxy_context, network_backend=backend
    ) as pool:
        await pool.request("GET", "https://example.com/")
    calls = backend.streams[0].tls_calls
    assert [call.server_hostname for call in calls] == ["proxy.test", "example.com"]
    assert calls[0].ssl_context is proxy_context
    assert backend.connect_calls[0].port == 443


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"], "407 Proxy Authentication"),
        ([b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"], "403 Forbidden"),
        ([b"HTTP/1.0 502 Bad Gateway\r\n\r\n"], "502 Bad Gateway"),
        ([], "without answering"),
        ([b"HTTP/1.1 200 Connection"], "in the middle"),
        ([b"SSH-2.0-OpenSSH_9.6\r\n"], "other than HTTP"),
        ([b"\x05\x00"], "in the middle"),
    ],
)
async def test_connect_refusals_are_proxy_errors(reply: list[bytes], message: str) -> None:
    """Every refusal, hang-up or garbage reply is a ProxyError; streams and slots are freed."""
    backend = netbackend_mock.AsyncMockBackend(reply)
    async with AsyncHTTPProxy("http://proxy.test", network_backend=backend) as pool:
        with pytest.raises(ProxyError, match=message):
            await pool.request("GET", "https://example.com/")
        assert pool.connections == []
        assert "0 active" in repr(pool)
    assert _all_closed(backend)


@pytest.mark.anyio
async def test_proxy_connect_honours_retries_local_address_and_socket_options() -> None:
    """retries, local_address and socket_options apply to the connection to the proxy."""

    class Flaky(netbackend_mock.AsyncMockBackend):  # type: ignore[misc,name-defined]
        failures = 1

        async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            if self.failures:
                self.failures -= 1
                raise ConnectError("refused")
            return await super().connect_tcp(*args, **kwargs)

    backend = Flaky([ESTABLISHED, OK])
    options = [(6, 1, 1)]
    async with AsyncHTTPProxy(
        "http://proxy.test",
        retries=1,
        local_address="0.0.0.0",
        socket_options=options,
        network_backend=backend,
    ) as pool:
        response = await pool.request(
            "GET", "https://example.com/", extensions={"timeout": {"connect": 3.0}}
        )
    assert response.content == b"ok"
    assert backend.sleeps == [0.0]
    call = backend.connect_calls[0]
    assert (call.host, call.local_address, call.socket_options) == (
        "proxy.test",
        "0.0.0.0",
        tuple(options),
    )
    assert call.timeout == 3.0


@pytest.mark.anyio
async def test_uds_reaches_the_proxy() -> None:
    """With uds, the proxy is reached through the Unix socket, for tunnels and forwarding."""
    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    async with AsyncHTTPProxy(
        "http://proxy.test", uds="/run/proxy.sock", network_backend=backend
    ) as pool:
        await pool.request("GET", "https://example.com/")
        await pool.request("GET", "http://example.com/")
    assert [call.path for call in backend.connect_calls] == ["/run/proxy.sock"] * 2
    assert backend.streams[0].written[0].startswith(b"CONNECT example.com:443 ")
    assert backend.streams[1].written[0].startswith(b"GET http://example.com/ ")


@pytest.mark.anyio
async def test_credentials_never_traced_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Neither trace events nor DEBUG logs show the Proxy-Authorization value."""
    events: list[str] = []

    async def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(f"{name} {info!r}")

    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    caplog.set_level(logging.DEBUG, logger="httptransport")
    async with AsyncHTTPProxy(
        "http://proxy.test", proxy_auth=(USER, PASSWORD), network_backend=backend
    ) as pool:
        await pool.request("GET", "https://example.com/", extensions={"trace": trace})
        await pool.request("GET", "http://example.com/", extensions={"trace": trace})
    text = "\n".join(events) + "\n" + caplog.text
    assert "send_request_headers.started request=<Request [b'CONNECT']>" in caplog.text
    assert events
    assert SECRET.decode() not in text
    assert PASSWORD not in text


def test_proxy_model() -> None:
    """Proxy takes credentials from the URL or auth=, and never shows them in its repr."""
    proxy = Proxy("http://bob:p%40ss@proxy.test:3128")
    assert proxy.auth == (b"bob", b"p@ss")
    assert proxy.url.host == b"proxy.test"
    assert proxy.url.port == 3128
    assert "p@ss" not in repr(proxy)
    assert "p%40ss" not in repr(proxy)
    assert Proxy("socks5://h", auth=("a", "b")).auth == (b"a", b"b")
    with pytest.raises(ValueError, match="proxy scheme"):
        Proxy("ftp://proxy.test")
    with pytest.raises(ValueError):
        AsyncHTTPProxy("socks5://proxy.test")


def test_forward_connection_serves_only_its_origin() -> None:
    """A forwarding connection is made per target origin and refuses others."""
    pool = AsyncHTTPProxy("http://proxy.test")
    connection = pool.create_connection(Origin(b"http", b"example.com", 80))
    assert connection.can_handle_request(Origin(b"http", b"example.com", 80))
    assert not connection.can_handle_request(Origin(b"http", b"example.org", 80))
    assert connection.info() == "CONNECTING"
    assert repr(connection) == "<AsyncForwardHTTPConnection [CONNECTING]>"
    tunnel = pool.create_connection(Origin(b"https", b"example.com", 443))
    assert repr(tunnel) == "<AsyncTunnelHTTPConnection [CONNECTING]>"


def test_proxy_model_carries_its_authorization_header() -> None:
    """Proxy(url, auth=...).headers starts with the Basic Proxy-Authorization header,
    as httpcore's does; one given by the caller is kept instead."""
    proxy = Proxy("http://proxy.test", auth=("user", "pass"), headers={"X-Extra": "1"})
    assert proxy.headers == [
        (b"Proxy-Authorization", b"Basic dXNlcjpwYXNz"),
        (b"X-Extra", b"1"),
    ]
    own = Proxy("http://proxy.test", auth=("user", "pass"), headers={"Proxy-Authorization": "x"})
    assert own.headers == [(b"Proxy-Authorization", b"x")]
    assert Proxy("http://proxy.test").headers == []


# -- proxy= on the plain pool --------------------------------------------------------

wired = pytest.mark.skipif(not PROXY_WIRED, reason="proxy= wiring pending")


@wired
@pytest.mark.anyio
async def test_pool_proxy_argument_forwards_and_tunnels() -> None:
    """A pool given proxy=Proxy(...) forwards http:// and tunnels https:// like HTTPProxy."""
    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    proxy = Proxy("http://proxy.test:3128", auth=(USER, PASSWORD))
    async with AsyncConnectionPool(proxy=proxy, network_backend=backend) as pool:  # type: ignore[call-arg,unused-ignore]
        assert (await pool.request("GET", "https://example.com/")).content == b"ok"
        await pool.request("GET", "http://example.com/")
    assert backend.streams[0].written[0].startswith(b"CONNECT example.com:443 ")
    assert b"Proxy-Authorization" not in b"".join(backend.streams[0].written[1:])
    assert backend.streams[1].written[0].startswith(b"GET http://example.com/ ")
    assert all(call.host == "proxy.test" for call in backend.connect_calls)


@wired
@pytest.mark.anyio
async def test_pool_proxy_argument_real(server: typing.Any, plain_proxy: typing.Any) -> None:
    """proxy= works against a real proxy."""
    async with AsyncConnectionPool(proxy=Proxy(_url(plain_proxy))) as pool:  # type: ignore[call-arg,unused-ignore]
        response = await pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
    assert response.content == b"Hello, world!"


@pytest.mark.anyio
async def test_connect_head_cannot_be_injected() -> None:
    """A URL host with CR/LF (built from parts) is refused before anything is written, so
    no header line can be injected into the CONNECT request."""
    backend = netbackend_mock.AsyncMockBackend([ESTABLISHED, OK])
    url = URL(scheme=b"https", host=b"example.com\r\nProxy-Authorization: x", port=443, target=b"/")
    async with AsyncHTTPProxy(
        "http://proxy.test", proxy_auth=(USER, PASSWORD), network_backend=backend
    ) as pool:
        with pytest.raises(LocalProtocolError, match="Invalid host for a CONNECT request"):
            await pool.request("GET", url)
        assert pool.connections == []
    assert all(stream.written == [] for stream in backend.streams)
