"""URL, Origin, Request and Response, and the input-normalising helpers behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import httptransport
from httptransport._models import (
    ByteStream,
    enforce_bytes,
    enforce_headers,
    enforce_stream,
    enforce_url,
    include_request_headers,
)

# -- URL ---------------------------------------------------------------------------------


def test_url_from_str() -> None:
    """A URL string is split into bytes scheme, host, port and target."""
    url = httptransport.URL("https://example.com:8443/path?q=1#frag")
    assert url.scheme == b"https"
    assert url.host == b"example.com"
    assert url.port == 8443
    assert url.target == b"/path?q=1"


def test_url_from_bytes_without_port_or_path() -> None:
    """Bytes parse too; a missing port is None and a missing path becomes '/'."""
    url = httptransport.URL(b"http://example.com")
    assert (url.scheme, url.host, url.port, url.target) == (b"http", b"example.com", None, b"/")


def test_url_drops_userinfo_and_lowercases_host() -> None:
    """User info is not part of the host, which is lowercased."""
    url = httptransport.URL("http://user:pw@EXAMPLE.com/")
    assert url.host == b"example.com"


def test_url_ipv6_host() -> None:
    """An IPv6 literal's brackets are removed from the host and restored in bytes()."""
    url = httptransport.URL("http://[::1]:8080/x")
    assert url.host == b"::1"
    assert url.port == 8080
    assert bytes(url) == b"http://[::1]:8080/x"


def test_url_from_parts() -> None:
    """Keyword parts, as str or bytes, are stored as bytes."""
    url = httptransport.URL(scheme="https", host=b"example.com", port=None, target="/a")
    assert url == httptransport.URL("https://example.com/a")


def test_url_repr() -> None:
    """The repr shows every part."""
    url = httptransport.URL("https://example.com/")
    assert repr(url) == "URL(scheme=b'https', host=b'example.com', port=None, target=b'/')"


def test_url_bytes() -> None:
    """bytes() rebuilds the URL, with the port only when one was given."""
    assert bytes(httptransport.URL("https://example.com/a?b")) == b"https://example.com/a?b"
    assert bytes(httptransport.URL("http://example.com:81/")) == b"http://example.com:81/"


def test_url_equality() -> None:
    """URLs with equal parts are equal, and are never equal to other types."""
    assert httptransport.URL("http://a/") == httptransport.URL("http://a/")
    assert httptransport.URL("http://a/") != httptransport.URL("http://a:80/")
    assert httptransport.URL("http://a/") != "http://a/"


def test_url_rejects_bad_types() -> None:
    """Parts that are neither bytes nor str, or non-ASCII text, raise TypeError."""
    with pytest.raises(TypeError, match="url must be bytes or str"):
        httptransport.URL(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="host"):
        httptransport.URL(scheme=b"http", host=1, target=b"/")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="may not include unicode characters"):
        httptransport.URL("http://exämple.com/")


def test_url_rejects_bad_port() -> None:
    """A port that is not a number in range raises ValueError."""
    with pytest.raises(ValueError):
        httptransport.URL("http://example.com:99999/")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/", 80),
        ("https://example.com/", 443),
        ("ws://example.com/", 80),
        ("wss://example.com/", 443),
        ("socks5://example.com/", 1080),
        ("socks5h://example.com/", 1080),
        ("https://example.com:8443/", 8443),
    ],
)
def test_url_origin_default_ports(url: str, expected: int) -> None:
    """The origin fills in the scheme's default port when the URL names none."""
    origin = httptransport.URL(url).origin
    assert origin.port == expected
    assert origin.host == b"example.com"


def test_url_origin_unknown_scheme() -> None:
    """An unknown scheme without a port has no origin."""
    with pytest.raises(KeyError):
        httptransport.URL("ftp://example.com/").origin  # noqa: B018


# -- Origin ------------------------------------------------------------------------------


def test_origin_str_and_repr() -> None:
    """str() gives scheme://host:port; repr() shows the parts."""
    origin = httptransport.Origin(b"https", b"example.com", 443)
    assert str(origin) == "https://example.com:443"
    assert repr(origin) == "Origin(scheme=b'https', host=b'example.com', port=443)"
    assert str(httptransport.Origin(b"http", b"::1", 80)) == "http://[::1]:80"


def test_origin_equality_and_hash() -> None:
    """Equal origins are equal and hash alike, so they work as dict keys."""
    a = httptransport.Origin(b"http", b"example.com", 80)
    b = httptransport.URL("http://example.com/x").origin
    assert a == b
    assert {a: 1}[b] == 1
    assert a != httptransport.Origin(b"https", b"example.com", 80)
    assert a != httptransport.Origin(b"http", b"example.org", 80)
    assert a != httptransport.Origin(b"http", b"example.com", 81)
    assert a != "http://example.com:80"


# -- enforce_* helpers -------------------------------------------------------------------


def test_enforce_bytes() -> None:
    """Bytes pass, ASCII text is encoded, anything else is a TypeError."""
    value = b"GET"
    assert enforce_bytes(value, name="method") is value
    assert enforce_bytes("GET", name="method") == b"GET"
    with pytest.raises(TypeError, match="method must be bytes or str, but got int"):
        enforce_bytes(1, name="method")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="method strings may not include unicode characters"):
        enforce_bytes("GÉT", name="method")


def test_enforce_bytes_subclass() -> None:
    """A bytes subclass is converted to plain bytes."""

    class Tagged(bytes):
        pass

    result = enforce_bytes(Tagged(b"x"), name="value")
    assert type(result) is bytes
    assert result == b"x"


def test_enforce_url() -> None:
    """URLs pass unchanged, bytes and str are parsed, other types are rejected."""
    url = httptransport.URL("http://a/")
    assert enforce_url(url, name="url") is url
    assert enforce_url("http://a/", name="url") == url
    assert enforce_url(b"http://a/", name="url") == url
    with pytest.raises(TypeError, match="url must be a URL, bytes, or str, but got int"):
        enforce_url(1, name="url")  # type: ignore[arg-type]


def test_enforce_headers_none() -> None:
    """No headers is an empty list."""
    assert enforce_headers(None, name="headers") == []


def test_enforce_headers_fast_path_keeps_list() -> None:
    """A list of (bytes, bytes) tuples is returned as the same object, not copied."""
    headers = [(b"a", b"1"), (b"b", b"2")]
    assert enforce_headers(headers, name="headers") is headers


def test_enforce_headers_mixed_list_is_converted() -> None:
    """A list with some str items is converted into a new list of bytes pairs."""
    headers: list[tuple[bytes | str, bytes | str]] = [(b"a", b"1"), ("b", "2")]
    result = enforce_headers(headers, name="headers")
    assert result == [(b"a", b"1"), (b"b", b"2")]
    assert result is not headers


def test_enforce_headers_mapping_and_tuple() -> None:
    """Mappings and tuples of pairs become lists of bytes pairs, in order."""
    assert enforce_headers({"a": "1", b"b": b"2"}, name="headers") == [(b"a", b"1"), (b"b", b"2")]
    assert enforce_headers((("a", "1"), [b"b", "2"]), name="headers") == [  # type: ignore[arg-type]
        (b"a", b"1"),
        (b"b", b"2"),
    ]


def test_enforce_headers_rejects_bad_input() -> None:
    """Text, numbers, non-pairs and non-ASCII values are rejected."""
    with pytest.raises(TypeError, match="headers must be a mapping or sequence"):
        enforce_headers("a: b", name="headers")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="headers must be a mapping or sequence"):
        enforce_headers(1, name="headers")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        enforce_headers([(b"a", b"1", b"x")], name="headers")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="header name must be bytes or str"):
        enforce_headers({1: b"x"}, name="headers")  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="header value strings may not include unicode characters"):
        enforce_headers({"a": "é"}, name="headers")


def test_enforce_stream() -> None:
    """None and bytes become byte streams; iterables pass through unchanged."""
    assert list(enforce_stream(None, name="content")) == []  # type: ignore[arg-type]
    assert list(enforce_stream(b"", name="content")) == []  # type: ignore[arg-type]
    assert list(enforce_stream(b"abc", name="content")) == [b"abc"]  # type: ignore[arg-type]
    chunks = [b"a", b"b"]
    assert enforce_stream(chunks, name="content") is chunks


@pytest.mark.anyio
async def test_byte_stream_async() -> None:
    """A byte stream can be iterated asynchronously too."""
    assert [chunk async for chunk in ByteStream(b"abc")] == [b"abc"]
    assert [chunk async for chunk in ByteStream(b"")] == []


def test_byte_stream_repr() -> None:
    """The repr gives the size."""
    assert repr(ByteStream(b"abc")) == "<ByteStream [3 bytes]>"


# -- include_request_headers -------------------------------------------------------------


def test_include_host_default_port() -> None:
    """Host comes first and leaves out the scheme's default port."""
    url = httptransport.URL("https://example.com:443/")
    headers = include_request_headers([(b"Accept", b"*/*")], url=url, content=None)
    assert headers == [(b"Host", b"example.com"), (b"Accept", b"*/*")]


def test_include_host_other_port_and_ipv6() -> None:
    """A non-default port is kept, and an IPv6 host is bracketed."""
    assert include_request_headers([], url=httptransport.URL("http://a:8080/"), content=None) == [
        (b"Host", b"a:8080")
    ]
    assert include_request_headers([], url=httptransport.URL("http://[::1]:81/"), content=None) == [
        (b"Host", b"[::1]:81")
    ]


@pytest.mark.parametrize("name", [b"Host", b"host", b"hOsT", b"HOST"])
def test_include_keeps_existing_host(name: bytes) -> None:
    """An existing Host header, in any case, is left alone and the list is not copied:
    no Host is added from the URL (before or after it), nothing in the list changes."""
    headers = [(b"Accept", b"*/*"), (name, b"other")]
    url = httptransport.URL("http://a:8080/")
    result = include_request_headers(headers, url=url, content=None)
    assert result is headers
    assert result == [(b"Accept", b"*/*"), (name, b"other")]
    # With a body only the framing header is added, in a new list; still one Host.
    with_body = include_request_headers(headers, url=url, content=b"xy")
    assert with_body == [(b"Accept", b"*/*"), (name, b"other"), (b"Content-Length", b"2")]
    assert headers == [(b"Accept", b"*/*"), (name, b"other")]
    # The control case: without a Host header one is added first, from the URL.
    assert include_request_headers([(b"Accept", b"*/*")], url=url, content=None) == [
        (b"Host", b"a:8080"),
        (b"Accept", b"*/*"),
    ]


def test_include_content_length_for_bytes() -> None:
    """A bytes body, even an empty one, adds Content-Length last."""
    url = httptransport.URL("http://a/")
    assert include_request_headers([], url=url, content=b"abc")[-1] == (b"Content-Length", b"3")
    assert include_request_headers([], url=url, content=b"")[-1] == (b"Content-Length", b"0")


def test_include_chunked_for_iterables() -> None:
    """A streaming body adds Transfer-Encoding: chunked."""
    url = httptransport.URL("http://a/")
    result = include_request_headers([], url=url, content=iter([b"x"]))
    assert result[-1] == (b"Transfer-Encoding", b"chunked")


@pytest.mark.parametrize("framing", [b"Content-Length", b"transfer-encoding"])
def test_include_respects_existing_framing(framing: bytes) -> None:
    """An existing Content-Length or Transfer-Encoding header suppresses both."""
    headers = [(b"Host", b"a"), (framing, b"5")]
    result = include_request_headers(headers, url=httptransport.URL("http://a/"), content=b"x")
    assert result == headers


# -- Request -----------------------------------------------------------------------------


def test_request_defaults() -> None:
    """A bare request has no headers, an empty body and empty extensions."""
    request = httptransport.Request("GET", "https://example.com/")
    assert request.method == b"GET"
    assert request.url == httptransport.URL("https://example.com/")
    assert request.headers == []
    assert list(request.stream) == []  # type: ignore[arg-type]
    assert request.extensions == {}


def test_request_adds_no_headers() -> None:
    """Like httpcore's, the model adds neither Host nor Content-Length itself."""
    request = httptransport.Request("POST", "http://a/", content=b"abc")
    assert request.headers == []


def test_request_keeps_given_objects() -> None:
    """A URL, a byte-pair header list and an extensions dict are used as given."""
    url = httptransport.URL("http://a/")
    headers = [(b"a", b"1")]
    extensions: dict[str, object] = {"timeout": {}}
    request = httptransport.Request(b"GET", url, headers=headers, extensions=extensions)
    assert request.url is url
    assert request.headers is headers
    assert request.extensions is extensions


def test_request_content_forms() -> None:
    """Bytes become a stream; iterables and async iterables are kept as the stream."""
    assert list(httptransport.Request("POST", "http://a/", content=b"x").stream) == [b"x"]  # type: ignore[arg-type]
    chunks = [b"a", b"b"]
    assert httptransport.Request("POST", "http://a/", content=chunks).stream is chunks

    async def agen() -> AsyncIterator[bytes]:
        yield b"a"

    body = agen()
    assert httptransport.Request("POST", "http://a/", content=body).stream is body


def test_request_target_extension() -> None:
    """The 'target' extension replaces the URL's target and keeps the rest."""
    request = httptransport.Request("OPTIONS", "http://a:81/x", extensions={"target": b"*"})
    assert request.url == httptransport.URL(scheme=b"http", host=b"a", port=81, target=b"*")


def test_request_repr() -> None:
    """The repr shows the method as bytes."""
    assert repr(httptransport.Request("GET", "http://a/")) == "<Request [b'GET']>"


def test_request_rejects_bad_types() -> None:
    """A method, URL or headers of the wrong type raise TypeError naming the argument."""
    with pytest.raises(TypeError, match="method"):
        httptransport.Request(1, "http://a/")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="url"):
        httptransport.Request("GET", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="headers"):
        httptransport.Request("GET", "http://a/", headers=1)  # type: ignore[arg-type]


def test_request_uses_slots() -> None:
    """Requests carry no per-instance __dict__ (cheap to build on every request)."""
    assert not hasattr(httptransport.Request("GET", "http://a/"), "__dict__")


# -- Response ----------------------------------------------------------------------------


class ClosingIterable:
    """A sync body that records being closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    def close(self) -> None:
        self.closed = True


class AsyncClosingIterable:
    """An async body that records being closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def test_response_defaults_and_repr() -> None:
    """A bare response has no headers, empty extensions and the status in its repr."""
    response = httptransport.Response(200)
    assert response.status == 200
    assert response.headers == []
    assert response.extensions == {}
    assert repr(response) == "<Response [200]>"


def test_response_headers_normalised() -> None:
    """Headers given as a dict become byte pairs."""
    response = httptransport.Response(204, headers={"Content-Type": "text/plain"})
    assert response.headers == [(b"Content-Type", b"text/plain")]


def test_response_content_before_read() -> None:
    """Accessing content before reading raises httpcore's RuntimeError."""
    response = httptransport.Response(200, content=ClosingIterable([b"a"]))
    with pytest.raises(RuntimeError, match=r"Call 'response\.read\(\)' first\."):
        response.content  # noqa: B018


def test_response_content_before_aread() -> None:
    """For an async body the message points to aread()."""
    response = httptransport.Response(200, content=AsyncClosingIterable([b"a"]))
    with pytest.raises(RuntimeError, match=r"Call 'await response\.aread\(\)' first\."):
        response.content  # noqa: B018


def test_response_read() -> None:
    """read() joins the chunks, caches them, and content returns them."""
    response = httptransport.Response(200, content=ClosingIterable([b"a", b"b"]))
    assert response.read() == b"ab"
    assert response.read() == b"ab"
    assert response.content == b"ab"


def test_response_bytes_content() -> None:
    """A response built from bytes reads back those bytes."""
    assert httptransport.Response(200, content=b"hello").read() == b"hello"


def test_response_iter_stream_once() -> None:
    """iter_stream() yields each chunk and refuses a second iteration."""
    response = httptransport.Response(200, content=ClosingIterable([b"a", b"b"]))
    assert list(response.iter_stream()) == [b"a", b"b"]
    with pytest.raises(RuntimeError, match="only be iterated once"):
        list(response.iter_stream())


def test_response_close_calls_stream_close() -> None:
    """close() closes the stream when it has a close method."""
    body = ClosingIterable([])
    httptransport.Response(200, content=body).close()
    assert body.closed


def test_response_close_without_stream_close() -> None:
    """close() is fine on a stream without a close method."""
    httptransport.Response(200, content=[b"x"]).close()


def test_response_sync_methods_reject_async_body() -> None:
    """read(), iter_stream() and close() refuse an async-only body."""
    response = httptransport.Response(200, content=AsyncClosingIterable([]))
    with pytest.raises(RuntimeError, match="aread"):
        response.read()
    with pytest.raises(RuntimeError, match="aiter_stream"):
        list(response.iter_stream())
    with pytest.raises(RuntimeError, match="aclose"):
        response.close()


@pytest.mark.anyio
async def test_response_aread() -> None:
    """aread() joins the chunks, caches them, and content returns them."""
    response = httptransport.Response(200, content=AsyncClosingIterable([b"a", b"b"]))
    assert await response.aread() == b"ab"
    assert await response.aread() == b"ab"
    assert response.content == b"ab"


@pytest.mark.anyio
async def test_response_aiter_stream_once() -> None:
    """aiter_stream() yields each chunk and refuses a second iteration."""
    response = httptransport.Response(200, content=AsyncClosingIterable([b"a", b"b"]))
    assert [chunk async for chunk in response.aiter_stream()] == [b"a", b"b"]
    with pytest.raises(RuntimeError, match="only be iterated once"):
        [chunk async for chunk in response.aiter_stream()]


@pytest.mark.anyio
async def test_response_aclose_calls_stream_aclose() -> None:
    """aclose() awaits the stream's aclose method."""
    body = AsyncClosingIterable([])
    await httptransport.Response(200, content=body).aclose()
    assert body.closed


@pytest.mark.anyio
async def test_response_async_methods_reject_sync_body() -> None:
    """aread(), aiter_stream() and aclose() refuse a sync-only body."""
    response = httptransport.Response(200, content=ClosingIterable([]))
    with pytest.raises(RuntimeError, match=r"response\.read\(\)"):
        await response.aread()
    with pytest.raises(RuntimeError, match="iter_stream"):
        [chunk async for chunk in response.aiter_stream()]
    with pytest.raises(RuntimeError, match=r"response\.close\(\)"):
        await response.aclose()


@pytest.mark.anyio
async def test_response_bytes_content_async() -> None:
    """A response built from bytes can be read asynchronously too."""
    assert await httptransport.Response(200, content=b"hi").aread() == b"hi"
