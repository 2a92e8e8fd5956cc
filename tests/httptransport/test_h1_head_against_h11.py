"""The lean response-head parser (``_h1_head.parse_head``) against h11, differentially.

Heads are built by hypothesis from the pieces a server sends (status lines, field
lines, line endings) and from hostile bytes (bare CR or LF, control characters, folded
lines, odd framing). Whatever the lean parser accepts, h11 must accept too and read the
same way: status, reason, header fields (names as sent, values without their optional
whitespace), body length and keep-alive. Each head is parsed twice, so that the second
parse runs from the cache of remembered lines, status line included.

The request side's cache of built heads (``prepare_head``) is checked the same way,
against the uncached builder (``_build_head``) it stands in for.
"""

from __future__ import annotations

import os

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httptransport import Request
from httptransport import _h1_head as h1

# Each test starts and ends with empty caches of parsed lines and heads.
pytestmark = pytest.mark.usefixtures("empty_h1_caches")


_NAMES = st.sampled_from(
    [
        b"Server",
        b"content-length",
        b"Content-Length",
        b"Connection",
        b"Transfer-Encoding",
        b"X-A",
        b"ETag",
        b"Bad Name",
        b"",
        b"X:Y",
        b" Folded",
        b"HTTP/1.1 200 a",
    ]
)
_VALUES = st.sampled_from(
    [
        b"nginx",
        b"0",
        b"12",
        b" 5 ",
        b"close",
        b"keep-alive, close",
        b"chunked",
        b"",
        b"a\rb",
        b"a\nb",
        b"a\x00b",
        b"\x7f",
        b"\xff\x80",
        b"a\tb",
        b"007",
        b"1" * 25,
        b"-1",
    ]
)
_STATUS_LINES = st.sampled_from(
    [
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 204 No Content",
        b"HTTP/1.1 304 ",
        b"HTTP/1.1 404 a:b",
        b"HTTP/1.0 200 OK",
        b"HTTP/1.1 100 Continue",
        b"HTTP/1.1 200",
        b"HTTP/1.1 99 X",
        b"HTTP/1.1 200 O\rK",
        b"HTTP/1.1 200 O\x01K",
        b"http/1.1 200 OK",
        b"Server: x",
    ]
)
_SEPARATORS = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r", b"\r\n "])


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    lines = [draw(_STATUS_LINES)]
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.binary(max_size=12)))
        else:
            lines.append(draw(_NAMES) + b":" + draw(_VALUES))
    head = lines[0]
    for line in lines[1:]:
        head += draw(_SEPARATORS) + line
    return head


def _h11_reads(
    head: bytes, method: bytes
) -> tuple[int, bytes, list[tuple[bytes, bytes]], int, bool]:
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target=b"/", headers=[(b"Host", b"x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(head + b"\r\n\r\n")
    event = conn.next_event()
    assert isinstance(event, h11.Response)
    headers = list(event.headers.raw_items())
    lengths = [int(v) for n, v in headers if n.lower() == b"content-length"]
    length = 0 if method == b"HEAD" or event.status_code in (204, 304) else lengths[0]
    data = conn.next_event()
    if length == 0:
        assert isinstance(data, h11.EndOfMessage)
    keep_alive = not any(
        n.lower() == b"connection" and b"close" in [t.strip(b" \t").lower() for t in v.split(b",")]
        for n, v in headers
    )
    return event.status_code, event.reason, headers, length, keep_alive


@settings(max_examples=400, deadline=None)
@given(heads(), st.sampled_from([b"GET", b"HEAD"]))
def test_what_the_lean_parser_accepts_h11_reads_the_same(head: bytes, method: bytes) -> None:
    first = h1.parse_head(head, method)
    again = h1.parse_head(head, method)  # from the cache of whole heads
    h1._heads.clear()
    by_lines = h1.parse_head(head, method)  # from the cache of remembered lines
    h1._heads.clear()
    h1._lines.clear()
    cold = h1.parse_head(head, method)  # with nothing remembered (earlier examples may
    # have left lines that the first parse used)
    assert first == again == by_lines == cold
    if first is not None:
        assert first == _h11_reads(head, method)
    # The head remembered while answering one method, read for the other.
    other = b"HEAD" if method == b"GET" else b"GET"
    remembered = h1.parse_head(head, other)
    h1._heads.clear()
    h1._lines.clear()
    assert remembered == h1.parse_head(head, other)
    if remembered is not None:
        assert remembered == _h11_reads(head, other)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nServer: x",
        b"HTTP/1.1 204 No Content\r\nServer: x",
        b"HTTP/1.1 404 a:b\r\nContent-Length: 0\r\nConnection: close",
    ],
)
def test_plain_heads_are_read_alike(head: bytes) -> None:
    for _ in range(2):
        parsed = h1.parse_head(head, b"GET")
        assert parsed is not None
        assert parsed == _h11_reads(head, b"GET")
        assert head in h1._heads  # (so the second round is read from the cache)


# -- the cache of request heads (prepare_head) against the uncached builder ---------


def examples(count: int) -> int:
    """``count`` examples in the default matrix cell, a tenth elsewhere (see
    ``tests/conftest.py``: the other cells run the same code on other versions)."""
    if os.environ.get("NETBACKEND_HEAVY_TESTS", "1") == "1":
        return count
    return max(10, count // 10)


@pytest.fixture
def empty_prepared(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[object, ...], object]:
    """A fresh, empty cache of request heads for the test."""
    cache: dict[tuple[object, ...], object] = {}
    monkeypatch.setattr(h1, "_prepared", cache)
    return cache


_REQUEST_NAMES = st.sampled_from(
    [
        b"Host",
        b"host",
        b"Content-Length",
        b"Transfer-Encoding",
        b"Connection",
        b"Upgrade",
        b"Accept",
        b"X-A",
        b"Bad Name",
    ]
)
_REQUEST_VALUES = st.sampled_from(
    [b"x", b"example.com:8080", b"0", b"12", b"chunked", b"close", b"", b" a", b"a\x00", b"a b"]
)
_METHODS = st.sampled_from([b"GET", b"POST", b"HEAD", b"CONNECT", b"GE T", b"get"])
_TARGETS = st.sampled_from([b"/", b"/a?b=1", b"*", b"/ a", b"/\xff"])


def _request(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]) -> Request:
    return Request(method, "http://example.com/", headers=headers, extensions={"target": target})


@settings(max_examples=examples(300), deadline=None)
@given(
    _METHODS,
    _TARGETS,
    st.lists(st.tuples(_REQUEST_NAMES, _REQUEST_VALUES), max_size=5),
)
def test_cached_request_heads_are_the_uncached_ones(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Whatever the cache holds from earlier examples, prepare_head() answers as the
    uncached builder does, twice (the second time from the cache, when the head was
    accepted and short enough)."""
    cold = h1._build_head(_request(method, target, list(headers)))
    first = h1.prepare_head(_request(method, target, list(headers)))
    again = h1.prepare_head(_request(method, target, [(n, v) for n, v in headers]))
    assert first == again == cold
    key = (method, target, *headers)
    assert (key in h1._prepared) == (cold is not None)
    if cold is not None:
        assert again is h1._prepared[key]


def test_a_repeated_request_head_comes_from_the_cache(
    empty_prepared: dict[tuple[object, ...], object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request with the same method, target and headers is answered from
    the cache, without building the head again; another header value is not."""
    headers = [(b"Host", b"x"), (b"Accept", b"*/*")]
    head = b"GET /p HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    assert h1.prepare_head(_request(b"GET", b"/p", list(headers))) == (head, 0, True)
    assert empty_prepared == {(b"GET", b"/p", *headers): (head, 0, True)}

    def no_build(request: Request) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(h1, "_build_head", no_build)
    assert h1.prepare_head(_request(b"GET", b"/p", list(headers))) == (head, 0, True)
    with pytest.raises(AssertionError, match="built again"):
        h1.prepare_head(_request(b"GET", b"/p", [(b"Host", b"x"), (b"Accept", b"*")]))


def test_refused_and_odd_request_heads_are_not_cached(
    empty_prepared: dict[tuple[object, ...], object],
) -> None:
    """A request the lean path refuses, headers that are not a list, and header pairs
    that cannot be hashed are answered as the builder answers them, and not cached."""
    assert h1.prepare_head(_request(b"GET", b"/", [])) is None  # no Host
    assert h1.prepare_head(_request(b"CONNECT", b"/", [(b"Host", b"x")])) is None
    expected = (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, True)
    as_tuple = _request(b"GET", b"/", [])
    as_tuple.headers = ((b"Host", b"x"),)  # type: ignore[assignment]
    assert h1.prepare_head(as_tuple) == expected
    as_lists = _request(b"GET", b"/", [])
    as_lists.headers = [[b"Host", b"x"]]  # type: ignore[list-item]
    assert h1.prepare_head(as_lists) == expected
    assert h1.prepare_head(as_lists) == expected
    assert empty_prepared == {}
    as_text = _request(b"GET", b"/", [])
    as_text.headers = [("Host", "x")]  # type: ignore[list-item]
    with pytest.raises(TypeError):  # as uncached: text is no header name
        h1.prepare_head(as_text)
    assert empty_prepared == {}


def test_request_head_cache_bounds(empty_prepared: dict[tuple[object, ...], object]) -> None:
    """Heads of up to 1024 bytes are cached, longer ones never; the 65th head empties
    the cache of 64 first."""
    start = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
    for size, cached in ((1024, True), (1025, False)):
        pad = b"p" * (size - len(start) - 4)
        result = h1.prepare_head(_request(b"GET", b"/", [(b"Host", b"x"), (b"X-Pad", pad)]))
        assert result is not None
        assert len(result[0]) == size
        assert ((b"GET", b"/", (b"Host", b"x"), (b"X-Pad", pad)) in empty_prepared) is cached
    empty_prepared.clear()
    for index in range(64):
        h1.prepare_head(_request(b"GET", b"/%d" % index, [(b"Host", b"x")]))
    assert len(empty_prepared) == 64
    h1.prepare_head(_request(b"GET", b"/64", [(b"Host", b"x")]))
    assert list(empty_prepared) == [(b"GET", b"/64", (b"Host", b"x"))]
