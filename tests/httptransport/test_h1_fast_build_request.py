"""``build_request``'s shortcuts against its general path, differentially: a request
without headers or body gets its ``Host`` header without ``include_request_headers``,
a URL string found in the cache is not parsed again, and a method given as common text
is not encoded again; each must build exactly what the general path builds."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httptransport import URL, Request, _models


def examples(count: int) -> int:
    """``count`` examples in the default matrix cell, a tenth elsewhere (see
    ``tests/conftest.py``: the other cells run the same code on other versions)."""
    if os.environ.get("NETBACKEND_HEAVY_TESTS", "1") == "1":
        return count
    return max(10, count // 10)


_URLS = st.builds(
    lambda scheme, host, port, target: f"{scheme}://{host}{port}{target}",
    st.sampled_from(["http", "https", "ws", "wss", "socks5", "ftp"]),
    st.sampled_from(["example.com", "127.0.0.1", "[::1]", "[fe80::1%25eth0]", "xn--bcher-kva.ch"]),
    st.sampled_from(["", ":80", ":443", ":8080", ":1080", ":0"]),
    st.sampled_from(["", "/", "/a/b?c=d", "/?", "/#frag"]),
)
_METHODS = st.sampled_from(
    ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get", "X"]
)


def _parts(request: Request) -> tuple[object, ...]:
    url = request.url
    return (
        request.method,
        (url.scheme, url.host, url.port, url.target),
        request.headers,
        request.stream,
        request.extensions,
        request._deadline,
    )


@settings(max_examples=examples(300), deadline=None)
@given(_URLS, _METHODS, st.booleans(), st.sampled_from([None, {}, {"target": b"*"}]))
def test_shortcuts_build_what_the_general_path_builds(
    url: str, method: str, as_bytes: bool, extensions: dict[str, object] | None
) -> None:
    """With the URL cached or not, the method as text or bytes: the request built with
    no headers equals the one built through include_request_headers() with an empty
    header list, and the one Request() builds with those headers."""
    given_url: str | bytes = url.encode("ascii") if as_bytes else url
    _models._parsed_urls.clear()
    general = _models.build_request(method, given_url, [], None, extensions)
    cold = _models.build_request(method, given_url, None, None, extensions)
    warm = _models.build_request(method, given_url, None, None, extensions)
    assert given_url in _models._parsed_urls
    assert _parts(general) == _parts(cold) == _parts(warm)
    assert warm.url is not cold.url
    assert warm.headers is not cold.headers
    host = URL(url)
    headers = _models.include_request_headers([], url=host, content=None)
    built = Request(method, url, headers=headers, extensions=extensions)
    assert _parts(built) == _parts(warm)


def test_text_methods_are_encoded_as_before() -> None:
    """The common methods come from the table; other text is encoded, and text that is
    not ASCII, or a method of another type, fails as it did."""
    assert _models.build_request("GET", "http://a/", None, None, None).method == b"GET"
    assert _models.build_request("MKCOL", "http://a/", None, None, None).method == b"MKCOL"

    class Text(str):
        pass

    assert _models.build_request(Text("GET"), "http://a/", None, None, None).method == b"GET"
    with pytest.raises(TypeError, match="may not include unicode"):
        _models.build_request("G\u00e9T", "http://a/", None, None, None)
    with pytest.raises(TypeError, match="must be bytes or str"):
        _models.build_request(1, "http://a/", None, None, None)  # type: ignore[arg-type]


def test_host_header_without_include_request_headers() -> None:
    """IPv6 hosts get brackets, and a port that is not the scheme's default is kept."""

    def host(url: str) -> list[tuple[bytes, bytes]]:
        return _models.build_request("GET", url, None, None, None).headers

    assert host("http://example.com/") == [(b"Host", b"example.com")]
    assert host("http://example.com:80/") == [(b"Host", b"example.com")]
    assert host("https://example.com:80/") == [(b"Host", b"example.com:80")]
    assert host("http://[::1]:8080/") == [(b"Host", b"[::1]:8080")]
    assert host("http://[::1]/") == [(b"Host", b"[::1]")]
    assert host("socks5://h/") == [(b"Host", b"h")]
    assert host("ftp://h:21/") == [(b"Host", b"h:21")]


def test_host_header_from_the_url_cache() -> None:
    """A cached URL string brings its ``Host`` value with it: the second request for
    the same string gets the same header as the first, without formatting it again,
    and a URL object (never cached) still gets it computed."""
    urls = ["http://[::1]:8080/", "https://example.com:80/", "http://example.com:80/x"]
    _models._parsed_urls.clear()
    for url in urls:
        cold = _models.build_request("GET", url, None, None, None).headers
        assert _models._parsed_urls[url][4] == cold[0][1]
        warm = _models.build_request("GET", url, None, None, None).headers
        assert warm == cold
        assert _models.build_request("GET", URL(url), None, None, None).headers == cold
    assert [_models.build_request("GET", url, None, None, None).headers[0][1] for url in urls] == [
        b"[::1]:8080",
        b"example.com:80",
        b"example.com",
    ]
