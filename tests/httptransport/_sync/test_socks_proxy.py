# Generated from tests/httptransport/_async/test_socks_proxy.py by scripts/unasync.py: do not edit.
"""SOCKS proxies: SOCKS5 (with and without auth), socks5h, SOCKS4/4a, every reply code.

Real proxies come from pproxy (a test dependency) run in a subprocess on 127.0.0.1;
byte-level cases use the mock backend.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
import ssl
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from httptransport import ConnectError, ConnectTimeout, Origin, ProxyError
from httptransport._sync import SOCKSProxy

netbackend_mock = pytest.importorskip("netbackend_mock")
pytest.importorskip("socksio")


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
TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
SOCKS5_NO_AUTH = b"\x05\x00"
SOCKS5_GRANTED = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"
SOCKS4_GRANTED = b"\x00\x5a\x04\x38\x7f\x00\x00\x01"
AUTH_OK = [b"\x05\x02", b"\x01\x00"]


@pytest.fixture(scope="module")
def socks_proxy() -> Iterator[typing.Any]:
    """A SOCKS4/SOCKS5 proxy without authentication."""
    pytest.importorskip("pproxy")
    with servers.running_proxy("socks4+socks5") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def socks_auth_proxy() -> Iterator[typing.Any]:
    """A SOCKS5 proxy that demands a username and password."""
    pytest.importorskip("pproxy")
    with servers.running_proxy("socks5", auth=f"{USER}:{PASSWORD}") as proxy:
        yield proxy


# -- real proxies -------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4", "socks4a"])
def test_real_socks_proxy(
    scheme: str,
    server: typing.Any,
    tls_server: typing.Any,
    socks_proxy: typing.Any,
    client_ssl_context: ssl.SSLContext,
) -> None:
    """http:// and https:// requests go through each SOCKS flavour, and are reused."""
    with SOCKSProxy(
        f"{scheme}://127.0.0.1:{socks_proxy.port}", ssl_context=client_ssl_context
    ) as pool:
        for url in (server.url("/"), tls_server.url("/"), tls_server.url("/")):
            response = pool.request("GET", url, extensions={"timeout": TIMEOUTS})
            assert response.content == b"Hello, world!"
    assert tls_server.connections_accepted == 1


def test_real_socks5h_lets_the_proxy_resolve(
    tls_server: typing.Any, socks_proxy: typing.Any, client_ssl_context: ssl.SSLContext
) -> None:
    """With socks5h the proxy resolves the host name (localhost here)."""
    with SOCKSProxy(
        f"socks5h://127.0.0.1:{socks_proxy.port}", ssl_context=client_ssl_context
    ) as pool:
        response = pool.request(
            "GET", f"https://localhost:{tls_server.port}/", extensions={"timeout": TIMEOUTS}
        )
    assert response.content == b"Hello, world!"


@pytest.mark.parametrize("where", ["url", "argument"])
def test_real_socks5_auth(where: str, server: typing.Any, socks_auth_proxy: typing.Any) -> None:
    """Username/password from the URL or proxy_auth are accepted by the server."""
    if where == "url":
        pool = SOCKSProxy(f"socks5://{USER}:{PASSWORD}@127.0.0.1:{socks_auth_proxy.port}")
    else:
        pool = SOCKSProxy(
            f"socks5://127.0.0.1:{socks_auth_proxy.port}", proxy_auth=(USER, PASSWORD)
        )
    with pool:
        response = pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
    assert response.content == b"Hello, world!"


@pytest.mark.parametrize("auth", [None, (USER, "wrong")])
def test_real_socks5_auth_refused(
    auth: tuple[str, str] | None, server: typing.Any, socks_auth_proxy: typing.Any
) -> None:
    """Missing or wrong credentials give a ProxyError and free the slot."""
    with SOCKSProxy(f"socks5://127.0.0.1:{socks_auth_proxy.port}", proxy_auth=auth) as pool:
        with pytest.raises(ProxyError):
            pool.request("GET", server.url("/"), extensions={"timeout": TIMEOUTS})
        assert pool.connections == []
    assert server.connections_accepted == 0


def test_stalled_socks_handshake_times_out(server: typing.Any) -> None:
    """A SOCKS server that never answers ends in ConnectTimeout, not a hang."""
    with servers.silent_listener() as port:
        pool = SOCKSProxy(f"socks5://127.0.0.1:{port}")
        with pool:
            with pytest.raises(ConnectTimeout):
                pool.request("GET", "http://127.0.0.1:1/", extensions={"timeout": {"connect": 0.2}})
            assert pool.connections == []


# -- bytes on the wire (mock backend) -------------------------------------------------
def test_socks5h_sends_the_name_and_auth() -> None:
    """socks5h sends the host name; credentials go through RFC 1929; TLS is to the origin."""
    backend = netbackend_mock.MockBackend([b"\x05\x02", b"\x01\x00", SOCKS5_GRANTED, OK])
    with SOCKSProxy(f"socks5h://{USER}:{PASSWORD}@proxy.test", network_backend=backend) as pool:
        response = pool.request("GET", "https://example.com/")
    assert response.content == b"ok"
    assert (backend.connect_calls[0].host, backend.connect_calls[0].port) == ("proxy.test", 1080)
    written = backend.streams[0].written
    assert written[0] == b"\x05\x01\x02"  # one method, as httpcore offers
    assert written[1] == b"\x01\x05alice\x06s3cret"
    assert written[2] == b"\x05\x01\x00\x03\x0bexample.com\x01\xbb"
    assert written[3].startswith(b"GET / HTTP/1.1\r\n")
    assert backend.streams[0].server_hostname == "example.com"


def test_socks_password_never_traced_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The SOCKS setup is traced with httpcore's arguments, the password replaced."""
    events: list[str] = []

    def trace(name: str, info: dict[str, typing.Any]) -> None:
        events.append(f"{name} {info!r}")

    backend = netbackend_mock.MockBackend([*AUTH_OK, SOCKS5_GRANTED, OK])
    caplog.set_level(logging.DEBUG, logger="httptransport")
    with SOCKSProxy(f"socks5h://{USER}:{PASSWORD}@proxy.test", network_backend=backend) as pool:
        pool.request("GET", "http://example.com/", extensions={"trace": trace})
    text = "\n".join(events) + "\n" + caplog.text
    assert "socks.setup_socks5_connection.started" in text
    assert "(b'alice', b'[secure]')" in text
    assert PASSWORD not in text


def test_socks5_sends_the_name_to_the_proxy() -> None:
    """Plain socks5 sends the host name for the proxy to resolve, as httpcore does: no
    lookup goes to the local resolver."""

    class NoLookups(netbackend_mock.MockBackend):  # type: ignore[misc,name-defined]
        def resolve(self, host: str, family: int = 0, timeout: float | None = None) -> list[str]:
            raise AssertionError(f"resolved {host!r} locally")

    backend = NoLookups([SOCKS5_NO_AUTH, SOCKS5_GRANTED, OK])
    with SOCKSProxy("socks5://proxy.test", network_backend=backend) as pool:
        pool.request("GET", "http://localhost:8080/")
    command = backend.streams[0].written[1]
    assert command == b"\x05\x01\x00\x03\x09localhost\x1f\x90"


def test_socks_connections_are_named_as_in_httpcore() -> None:
    """A SOCKS pool's connections are Socks5Connection, as httpcore names them."""
    pool = SOCKSProxy("socks5://proxy.test")
    connection = pool.create_connection(Origin(b"https", b"example.com", 443))
    assert repr(connection) == "<Socks5Connection [CONNECTING]>"


def test_socks4_resolution_goes_through_the_backend() -> None:
    """socks4:// resolves with the backend's resolve(), for IPv4 and within the connect
    timeout, and sends the address it gave."""
    calls: list[tuple[str, int, float | None]] = []

    class Resolving(netbackend_mock.MockBackend):  # type: ignore[misc,name-defined]
        def resolve(self, host: str, family: int = 0, timeout: float | None = None) -> list[str]:
            calls.append((host, family, timeout))
            return ["127.0.0.9", "127.0.0.10"]

    backend = Resolving([SOCKS4_GRANTED, OK])
    with SOCKSProxy("socks4://proxy.test", network_backend=backend) as pool:
        response = pool.request(
            "GET", "http://origin.test:8080/", extensions={"timeout": {"connect": 7.0}}
        )
        assert response.content == b"ok"
    assert calls == [("origin.test", socket.AF_INET, 7.0)]
    assert backend.streams[0].written[0] == b"\x04\x01\x1f\x90\x7f\x00\x00\x09\x00"


@pytest.mark.parametrize(
    ("scheme", "host", "expected"),
    [
        ("socks4", "127.0.0.1", b"\x04\x01\x00\x50\x7f\x00\x00\x01alice\x00"),
        ("socks4a", "example.com", b"\x04\x01\x00\x50\x00\x00\x00\x01alice\x00example.com\x00"),
    ],
)
def test_socks4_request_bytes(scheme: str, host: str, expected: bytes) -> None:
    """SOCKS4 sends an IPv4 address, SOCKS4a the name; the username is the user id."""
    backend = netbackend_mock.MockBackend([SOCKS4_GRANTED, OK])
    with SOCKSProxy(
        f"{scheme}://proxy.test", proxy_auth=(USER, ""), network_backend=backend
    ) as pool:
        assert (pool.request("GET", f"http://{host}/")).content == b"ok"
    assert backend.streams[0].written[0] == expected


REPLY_MEANINGS = [
    "General SOCKS server failure",
    "Connection not allowed by ruleset",
    "Network unreachable",
    "Host unreachable",
    "Connection refused",
    "TTL expired",
    "Command not supported",
    "Address type not supported",
    "UNKNOWN",
]
SOCKS5_FAILURES = [
    (bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]), f"^Proxy Server could not connect: {meaning}\\.$")
    for code, meaning in enumerate(REPLY_MEANINGS, start=1)
]


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        *[([*AUTH_OK, reply], message) for reply, message in SOCKS5_FAILURES],
        (
            [b"\x05\xff"],
            "^Requested USERNAME/PASSWORD from proxy server, but got NO ACCEPTABLE METHODS\\.$",
        ),
        ([b"\x05\x01"], "^Requested USERNAME/PASSWORD from proxy server, but got GSSAPI\\.$"),
        (
            [SOCKS5_NO_AUTH],
            "^Requested USERNAME/PASSWORD from proxy server, but got NO AUTHENTICATION REQUIRED",
        ),
        ([b"\x05\x02", b"\x01\x01"], "^Invalid username/password$"),
        ([b"HTTP/1.1 400 Bad"], "SOCKS5 server"),
        ([*AUTH_OK, b"\x04\x00\x00\x01"], "SOCKS5 server"),
        ([*AUTH_OK, b"\x05\x00\x00\x07"], "address type 0x07"),
        ([], "closed the connection"),
        (AUTH_OK[:1], "closed the connection"),
        ([*AUTH_OK, b"\x05\x00"], "closed the connection"),
    ],
)
def test_socks5_failures_are_proxy_errors(replies: list[bytes], message: str) -> None:
    """Every SOCKS5 refusal, hang-up or garbage reply is a ProxyError; refusals are worded
    as httpcore words them."""
    backend = netbackend_mock.MockBackend(replies)
    with SOCKSProxy(
        "socks5h://proxy.test", proxy_auth=(USER, PASSWORD), network_backend=backend
    ) as pool:
        with pytest.raises(ProxyError, match=message):
            pool.request("GET", "http://example.com/")
        assert pool.connections == []
    assert all(stream.closed for stream in backend.streams)


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        ([b"\x00\x5b\x00\x00\x00\x00\x00\x00"], "0x5b \\(request rejected or failed\\)"),
        ([b"\x00\x5c\x00\x00\x00\x00\x00\x00"], "0x5c \\(connection failed\\)"),
        ([b"\x00\x5d\x00\x00\x00\x00\x00\x00"], "0x5d \\(authentication failed\\)"),
        ([b"\x00\x01\x00\x00\x00\x00\x00\x00"], "0x01 \\(unknown reply code\\)"),
        ([b"\x05\x00\x00\x00\x00\x00\x00\x00"], "SOCKS4 server"),
        ([b"\x00\x5a\x00"], "closed the connection"),
    ],
)
def test_socks4_failures_are_proxy_errors(replies: list[bytes], message: str) -> None:
    """Every SOCKS4 refusal, hang-up or garbage reply is a ProxyError naming the code."""
    backend = netbackend_mock.MockBackend(replies)
    with SOCKSProxy("socks4a://proxy.test", network_backend=backend) as pool:
        with pytest.raises(ProxyError, match=message):
            pool.request("GET", "http://example.com/")
        assert pool.connections == []
    assert all(stream.closed for stream in backend.streams)


def test_socks_options_reach_the_proxy_connection() -> None:
    """local_address, socket_options, the connect timeout and uds apply to the proxy socket."""
    backend = netbackend_mock.MockBackend([SOCKS5_NO_AUTH, SOCKS5_GRANTED, OK])
    with SOCKSProxy(
        "socks5h://proxy.test:9050",
        local_address="0.0.0.0",
        socket_options=[(6, 1, 1)],
        network_backend=backend,
    ) as pool:
        pool.request("GET", "http://example.com/", extensions={"timeout": {"connect": 2.0}})
    call = backend.connect_calls[0]
    assert (call.port, call.local_address, call.socket_options, call.timeout) == (
        9050,
        "0.0.0.0",
        ((6, 1, 1),),
        2.0,
    )
    backend = netbackend_mock.MockBackend([SOCKS5_NO_AUTH, SOCKS5_GRANTED, OK])
    with SOCKSProxy("socks5h://proxy.test", uds="/run/socks.sock", network_backend=backend) as pool:
        pool.request("GET", "http://example.com/")
    assert backend.connect_calls[0].path == "/run/socks.sock"


def test_missing_socksio_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without socksio, creating a SOCKS proxy says to install httptransport[socks]."""
    monkeypatch.setitem(sys.modules, "socksio", None)
    with pytest.raises(ImportError, match=r"httptransport\[socks\]"):
        SOCKSProxy("socks5://proxy.test")


def test_socks_proxy_rejects_http_urls() -> None:
    """SOCKSProxy only takes SOCKS URLs."""
    with pytest.raises(ValueError, match="socks5"):
        SOCKSProxy("http://proxy.test")


@pytest.mark.parametrize("scheme", ["socks5h", "socks4a"])
def test_unencodable_host_name_is_connect_error(scheme: str) -> None:
    """A host label over 63 characters cannot be sent to the proxy: ConnectError, never
    UnicodeError or IndexError, and nothing is left open."""
    replies = [b"\x05\x00"] if scheme == "socks5h" else []
    backend = netbackend_mock.MockBackend(replies)
    with SOCKSProxy(f"{scheme}://proxy.test", network_backend=backend) as pool:
        with pytest.raises(ConnectError, match="Cannot send the host name"):
            pool.request("GET", "http://" + "a" * 64 + ".example/")
        assert pool.connections == []
    assert all(stream.closed for stream in backend.streams)
