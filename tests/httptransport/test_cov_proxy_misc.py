"""Proxies: what ``Proxy`` refuses, the TLS context used to reach an ``https://`` proxy
when none is given, the proxy headers' checks and redaction, and the httpcore-style
methods of a forwarding connection. On byte-scripted mock backends, blocking and async.
"""

from __future__ import annotations

import ssl
import typing

import pytest

from httptransport import (
    URL,
    AsyncConnectionPool,
    ConnectionPool,
    LocalProtocolError,
    Origin,
    Proxy,
    Request,
)
from httptransport._async.forwarding import AsyncForwardHTTPConnection
from httptransport._proxy_model import RedactedHeaders, authority, proxy_headers
from httptransport._sync.forwarding import ForwardHTTPConnection
from netbackend_mock import AsyncMockBackend, MockBackend

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ESTABLISHED = b"HTTP/1.1 200 Connection established\r\n\r\n"


@pytest.mark.parametrize(
    ("url", "error", "words"),
    [
        (1234, TypeError, "proxy url must be a URL, bytes or str, not int"),
        ("ftp://proxy:21", ValueError, "Unknown proxy scheme 'ftp'"),
        ("http://:3128", ValueError, "The proxy URL has no host."),
    ],
)
def test_proxy_urls_refused(url: typing.Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as info:
        Proxy(url)
    assert words in str(info.value)


def test_proxy_scheme_is_case_insensitive() -> None:
    proxy = Proxy("HTTP://proxy.example:3128/")
    assert proxy.url == URL("http://proxy.example:3128/")


def test_proxy_headers_checked_and_credentials_kept_out_of_logs() -> None:
    with pytest.raises(LocalProtocolError, match="Invalid proxy header"):
        proxy_headers([(b"Bad Name", b"x")], None)
    with pytest.raises(LocalProtocolError, match="Invalid proxy header"):
        proxy_headers([(b"X-Bad", b"one\r\ntwo")], None)
    # The caller's own Proxy-Authorization wins over the URL's credentials.
    own = [(b"Proxy-Authorization", b"Bearer token")]
    assert proxy_headers(own, (b"user", b"pass")) == own
    headers = RedactedHeaders(proxy_headers([(b"X-Trace", b"1")], (b"user", b"pass")))
    assert headers[0] == (b"Proxy-Authorization", b"Basic dXNlcjpwYXNz")
    assert "dXNlcjpwYXNz" not in repr(headers)
    assert repr(headers) == repr([(b"Proxy-Authorization", b"[secure]"), (b"X-Trace", b"1")])


def test_authority_brackets_an_ipv6_address() -> None:
    assert authority(b"::1", 8443) == b"[::1]:8443"
    assert authority(b"example.com", 443) == b"example.com:443"


def _assert_default_proxy_context(context: ssl.SSLContext | None) -> None:
    """The context made for an https:// proxy when the Proxy has none: it verifies."""
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_forwarding_through_an_https_proxy_without_a_context() -> None:
    """A plain http:// request through an https:// proxy that was given no TLS context:
    the proxy connection gets a verifying default one, and the request goes in absolute
    form. The forwarding connection answers httpcore's questions about itself, refuses
    another origin's request, and closes its proxy connection when used as a context
    manager."""
    backend = MockBackend([OK])
    with ConnectionPool(proxy=Proxy("https://proxy.example:8443"), network_backend=backend) as pool:
        assert pool.request("GET", "http://example.com/page").content == b"ok"
        (stream,) = backend.streams
        assert stream.server_hostname == "proxy.example"
        _assert_default_proxy_context(stream.ssl_context)
        assert stream.data_written.startswith(b"GET http://example.com/page HTTP/1.1\r\n")
        (connection,) = pool.connections
        assert isinstance(connection, ForwardHTTPConnection)
        assert connection.is_available()
        assert not connection.has_expired()
        other = Request("GET", "http://other.example/")
        with pytest.raises(RuntimeError, match="on connection to"):
            connection.handle_request(other)
        with connection as entered:
            assert entered is connection
        assert stream.closed
        assert connection.is_closed()


def test_tunnel_through_an_https_proxy_without_a_context() -> None:
    backend = MockBackend([ESTABLISHED, OK])
    with ConnectionPool(proxy=Proxy("https://proxy.example:8443"), network_backend=backend) as pool:
        assert pool.request("GET", "https://example.com/").content == b"ok"
    (stream,) = backend.streams
    assert [call.server_hostname for call in stream.tls_calls] == ["proxy.example", "example.com"]
    _assert_default_proxy_context(stream.tls_calls[0].ssl_context)
    assert stream.data_written.startswith(b"CONNECT example.com:443 HTTP/1.1\r\n")


@pytest.mark.anyio
async def test_async_forwarding_through_an_https_proxy_without_a_context(
    anyio_backend: str,
) -> None:
    backend = AsyncMockBackend([OK])
    proxy = Proxy("https://proxy.example:8443")
    async with AsyncConnectionPool(proxy=proxy, network_backend=backend) as pool:
        assert (await pool.request("GET", "http://example.com/page")).content == b"ok"
        (stream,) = backend.streams
        _assert_default_proxy_context(stream.ssl_context)
        (connection,) = pool.connections
        assert isinstance(connection, AsyncForwardHTTPConnection)
        assert connection.is_available()
        assert not connection.has_expired()
        assert connection.can_handle_request(Origin(b"http", b"example.com", 80))
        with pytest.raises(RuntimeError, match="on connection to"):
            await connection.handle_async_request(Request("GET", "http://other.example/"))
        async with connection as entered:
            assert entered is connection
        assert stream.closed


@pytest.mark.anyio
async def test_async_tunnel_through_an_https_proxy_without_a_context(anyio_backend: str) -> None:
    backend = AsyncMockBackend([ESTABLISHED, OK])
    proxy = Proxy("https://proxy.example:8443")
    async with AsyncConnectionPool(proxy=proxy, network_backend=backend) as pool:
        assert (await pool.request("GET", "https://example.com/")).content == b"ok"
    (stream,) = backend.streams
    assert [call.server_hostname for call in stream.tls_calls] == ["proxy.example", "example.com"]
    _assert_default_proxy_context(stream.tls_calls[0].ssl_context)
