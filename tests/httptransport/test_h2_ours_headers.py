"""The tables of header sections checked before (:mod:`httptransport._h2_headers`).

``request_headers`` and ``response_fields`` remember the sections they accepted. Over
hypothesis-generated sections (valid ones, and ones with every kind of fault the checks
look for), a section taken from the table gives what checking it again gives (the same
result, or the same error: a refused section is never kept), the lists handed out are
the caller's own, and the tables stay within their bounds.
"""

from __future__ import annotations

import os
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("h2")

from httptransport import (
    URL,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    _h2_headers,
)
from httptransport._h2_adapter import H2, import_h2
from httptransport._h2_headers import request_headers, response_fields

import_h2()


def examples(count: int) -> int:
    """``count`` examples in the default matrix cell, a tenth elsewhere."""
    if os.environ.get("NETBACKEND_HEAVY_TESTS", "1") == "1":
        return count
    return max(10, count // 10)


PROPERTY = settings(
    max_examples=examples(300),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def empty_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with both tables empty (and leaves the shared ones alone)."""
    monkeypatch.setattr(_h2_headers, "_requests", {})
    monkeypatch.setattr(_h2_headers, "_heads", {})


def _outcome(
    call: typing.Callable[..., typing.Any], *args: typing.Any, **kwargs: typing.Any
) -> tuple[str, typing.Any]:
    """What ``call(*args, **kwargs)`` returns, or the type and message of what it raises."""
    try:
        return "ok", call(*args, **kwargs)
    except Exception as exc:
        return type(exc).__name__, str(exc)


# -- response heads ----------------------------------------------------------------------

_RESPONSE_NAMES = [
    b":status",
    b"server",
    b"date",
    b"content-type",
    b"content-length",
    b"etag",
    b"x-a",
    b"Content-Type",  # not lower-case
    b"bad name",  # not a token
    b"",
    b":path",  # a request pseudo-header
    b"connection",  # connection-specific
    b"transfer-encoding",
]
_RESPONSE_VALUES = [
    b"200",
    b"404",
    b"20",
    b"2x0",
    b"nginx",
    b"",
    b"text/plain",
    b" lead",
    b"trail\t",
    b"a\r\nb",
    b"nul\x00",
    b"\xff\xfe obs-text",
    b"x" * 300,
]


@st.composite
def response_sections(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    """A header list as h2 hands it over: mostly a valid head, often with a fault."""
    fields: list[tuple[bytes, bytes]] = []
    if draw(st.booleans()):
        fields.append((b":status", draw(st.sampled_from([b"200", b"204", b"404", b"2000"]))))
    for name, value, kind in draw(
        st.lists(
            st.tuples(
                st.sampled_from(_RESPONSE_NAMES),
                st.sampled_from(_RESPONSE_VALUES),
                st.integers(0, 3),
            ),
            max_size=8,
        )
    ):
        if kind == 0:
            fields.append(H2.never_indexed(name, value))
        else:
            fields.append((name, value))
    return fields


@PROPERTY
@given(sections=st.lists(response_sections(), min_size=1, max_size=6), head=st.booleans())
def test_a_remembered_response_section_checks_as_a_fresh_one(
    sections: list[list[tuple[bytes, bytes]]], head: bool
) -> None:
    """Each section, given twice (the second time from the table when it was kept), gives
    what the uncached check gives: the same status and fields, or the same error."""
    _h2_headers._heads.clear()  # (the fixture's table: one per test, not per example)
    for fields in [*sections, *sections]:
        expected = _outcome(_h2_headers._response_fields, list(fields), head)
        assert _outcome(response_fields, list(fields), head=head) == expected
        key = tuple(fields)
        size = sum(len(name) + len(value) + 32 for name, value in fields)
        kept = expected[0] == "ok" and head and size <= _h2_headers.CACHED_SECTION_MAX
        # (Refused, a trailer section or over the bound: never kept.)
        assert (key in _h2_headers._heads) == kept
    assert len(_h2_headers._heads) <= _h2_headers.SECTIONS_MAX


def test_a_remembered_response_head_comes_from_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second time, the head is not checked again, and the caller gets a list of its
    own: changing it changes nothing for the next response."""
    fields = [(b":status", b"200"), (b"server", b"nginx"), (b"content-length", b"3")]
    first = response_fields(list(fields), head=True)
    assert first == (200, fields[1:])

    def unchecked(*args: object) -> typing.NoReturn:
        raise AssertionError("checked again")

    monkeypatch.setattr(_h2_headers, "_response_fields", unchecked)
    status, headers = response_fields(list(fields), head=True)
    assert (status, headers) == first
    assert headers is not first[1]
    headers.append((b"x-mine", b"1"))
    assert response_fields(list(fields), head=True) == first


def test_a_malformed_response_head_is_refused_every_time() -> None:
    """A refused head is not kept: given again, it is refused again, with the same error."""
    fields = [(b":status", b"200"), (b"connection", b"close")]
    for _ in range(2):
        with pytest.raises(RemoteProtocolError, match="Malformed response header name"):
            response_fields(list(fields), head=True)
    assert not _h2_headers._heads


def test_response_heads_over_the_bounds_are_not_kept() -> None:
    """A head over CACHED_SECTION_MAX (counted as RFC 7541 counts a header list) is
    checked but not kept; the table holds at most SECTIONS_MAX heads, each within the
    bound, however many differ."""
    limit = _h2_headers.CACHED_SECTION_MAX
    value = b"v" * (limit - 32 - len(b":status") - 3 - 32 - len(b"x-big"))
    at_limit = [(b":status", b"200"), (b"x-big", value)]
    over = [(b":status", b"200"), (b"x-big", value + b"v")]
    assert response_fields(list(at_limit), head=True)[0] == 200
    assert response_fields(list(over), head=True)[0] == 200
    assert tuple(at_limit) in _h2_headers._heads
    assert tuple(over) not in _h2_headers._heads
    # As many fields as fit: each one counts 32 bytes more than its name and value.
    many = [(b":status", b"200")] + [(b"a", b"")] * ((limit - 42) // 33 + 1)
    response_fields(list(many), head=True)
    assert tuple(many) not in _h2_headers._heads
    for index in range(3 * _h2_headers.SECTIONS_MAX):
        response_fields([(b":status", b"200"), (b"x-n", b"%d" % index)], head=True)
        assert len(_h2_headers._heads) <= _h2_headers.SECTIONS_MAX
        # (each kept; the table, holding ``at_limit`` first, starts over when full)
        assert len(_h2_headers._heads) == (index + 1) % _h2_headers.SECTIONS_MAX + 1
    for key, (_, headers) in _h2_headers._heads.items():
        assert sum(len(name) + len(value) + 32 for name, value in key) <= limit
        assert sum(len(name) + len(value) + 32 for name, value in headers) <= limit


def test_an_unhashable_response_section_is_checked_uncached() -> None:
    """Fields that cannot be a key (a ``bytearray``) are checked as before, not kept."""
    fields: list[typing.Any] = [(b":status", b"200"), (b"x-a", bytearray(b"1"))]
    expected: typing.Any = (200, [(b"x-a", bytearray(b"1"))])
    assert response_fields(fields, head=True) == expected
    assert not _h2_headers._heads


# -- requests ----------------------------------------------------------------------------

_REQUEST_NAMES = [
    b"Host",
    b"host",
    b"Accept",
    b"user-agent",
    b"X-Mixed-Case",
    b"Authorization",
    b"proxy-authorization",
    b"Connection",
    b"keep-alive",
    b"TE",
    b"Transfer-Encoding",
    b"Content-Length",
    b"bad name",
    b"",
    b"caf\xc3\xa9",
]
_REQUEST_VALUES = [
    b"example.org",
    b"example.org:8443",
    b"*/*",
    b"trailers",
    b" Trailers ",
    b"gzip",
    b"",
    b"5",
    b"secret",
    b" lead",
    b"trail ",
    b"a\nb",
    b"nul\x00",
    b"\xff",
]


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """A request as a pool hands it to the connection (headers a list of byte pairs)."""
    method = draw(st.sampled_from([b"GET", b"POST", b"CONNECT", b"G ET", b""]))
    scheme = draw(st.sampled_from([b"http", b"https"]))
    host = draw(st.sampled_from([b"example.org", b"127.0.0.1", b"::1"]))
    port = draw(st.sampled_from([None, 80, 8443]))
    target = draw(st.sampled_from([b"/", b"/a?b=c", b"", b"/a b", b"/\r\n", b"*"]))
    headers = [
        (name, value)
        for name, value in draw(
            st.lists(
                st.tuples(st.sampled_from(_REQUEST_NAMES), st.sampled_from(_REQUEST_VALUES)),
                max_size=6,
            )
        )
    ]
    url = URL(scheme=scheme, host=host, port=port, target=target)
    return Request(method, url, headers=headers)


@PROPERTY
@given(batch=st.lists(requests(), min_size=1, max_size=6))
def test_a_remembered_request_section_builds_as_a_fresh_one(batch: list[Request]) -> None:
    """Each request, sent twice (the second time from the table when it was kept),
    gets what building its header list afresh gives: the same fields (never-indexed
    ones as such), or the same error."""
    _h2_headers._requests.clear()  # (the fixture's table: one per test, not per example)
    for request in [*batch, *batch]:
        expected = _outcome(_h2_headers._request_headers, request)
        got = _outcome(request_headers, request)
        assert got == expected
        if got[0] == "ok":
            assert [type(field) for field in got[1]] == [type(field) for field in expected[1]]
        url = request.url
        key = (request.method, url.scheme, url.host, url.port, url.target, *request.headers)
        assert (key in _h2_headers._requests) == (got[0] == "ok")
    assert len(_h2_headers._requests) <= _h2_headers.SECTIONS_MAX


def test_a_remembered_request_section_comes_from_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same request again is not built again; the caller gets a list of its own."""
    request = Request(
        "GET",
        "https://example.org/a",
        headers=[(b"Host", b"example.org"), (b"Authorization", b"k")],
    )
    first = request_headers(request)
    assert first == [
        (b":method", b"GET"),
        (b":authority", b"example.org"),
        (b":scheme", b"https"),
        (b":path", b"/a"),
        (b"authorization", b"k"),
    ]
    assert type(first[-1]) is H2.never_indexed

    def unbuilt(*args: object) -> typing.NoReturn:
        raise AssertionError("built again")

    monkeypatch.setattr(_h2_headers, "_request_headers", unbuilt)
    again = request_headers(request)
    assert again == first
    assert again is not first
    assert type(again[-1]) is H2.never_indexed
    again.append((b"x-mine", b"1"))
    assert request_headers(request) == first


def test_a_request_differing_in_any_part_is_not_taken_for_another() -> None:
    """Method, scheme, host, port, target and each field are all part of the key."""
    base = ("GET", "http://example.org:8080/a")
    seen = {
        tuple(request_headers(Request(*base))),
        tuple(request_headers(Request("POST", base[1]))),
        tuple(request_headers(Request("GET", "https://example.org:8080/a"))),
        tuple(request_headers(Request("GET", "http://example.com:8080/a"))),
        tuple(request_headers(Request("GET", "http://example.org:8081/a"))),
        tuple(request_headers(Request("GET", "http://example.org/a"))),
        tuple(request_headers(Request("GET", "http://example.org:8080/b"))),
        tuple(request_headers(Request(*base, headers=[(b"Host", b"h")]))),
        tuple(request_headers(Request(*base, headers=[(b"X-A", b"1")]))),
        tuple(request_headers(Request(*base, headers=[(b"X-A", b"2")]))),
    }
    assert len(seen) == 10
    assert len(_h2_headers._requests) == 10


def test_a_refused_request_is_refused_every_time() -> None:
    request = Request("GET", "http://example.org/", headers=[(b"X-A", b"a\r\nb")])
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="Invalid HTTP/2 header value"):
            request_headers(request)
    assert not _h2_headers._requests


def test_requests_over_the_bounds_are_not_kept() -> None:
    """A request over CACHED_SECTION_MAX (its fields counted as RFC 7541 counts them,
    plus its method, scheme, host and target) is built but not kept; the table holds at
    most SECTIONS_MAX of them."""
    limit = _h2_headers.CACHED_SECTION_MAX
    fixed = len(b"GET") + len(b"http") + len(b"example.org") + len(b"/")
    value = b"v" * (limit - fixed - 32 - len(b"x-big"))
    at_limit = Request("GET", "http://example.org/", headers=[(b"X-Big", value)])
    over = Request("GET", "http://example.org/", headers=[(b"X-Big", value + b"v")])
    request_headers(at_limit)
    assert len(_h2_headers._requests) == 1
    request_headers(over)
    assert len(_h2_headers._requests) == 1
    for index in range(3 * _h2_headers.SECTIONS_MAX):
        request_headers(Request("GET", b"http://example.org/%d" % index))
        assert len(_h2_headers._requests) <= _h2_headers.SECTIONS_MAX
        # (each kept; the table, holding ``at_limit`` first, starts over when full)
        assert len(_h2_headers._requests) == (index + 1) % _h2_headers.SECTIONS_MAX + 1


def test_a_request_with_headers_not_in_a_list_is_built_uncached() -> None:
    request = Request("GET", "http://example.org/")
    request.headers = typing.cast(typing.Any, ((b"X-A", b"1"),))
    assert request_headers(request)[-1] == (b"x-a", b"1")
    assert not _h2_headers._requests


def _stored_bytes(table: typing.Mapping[typing.Any, typing.Any]) -> int:
    """The payload of a table: every bytes in its keys and values (shared ones twice)."""

    def size(item: object) -> int:
        if isinstance(item, bytes):
            return len(item)
        if isinstance(item, tuple):
            return sum(size(part) for part in item)
        return 0

    return sum(size(key) + size(value) for key, value in table.items())


def test_both_tables_stay_within_their_byte_bounds() -> None:
    """Offered far more sections than they keep, each as large as may be kept, neither
    table holds more than SECTIONS_MAX * 2 * CACHED_SECTION_MAX bytes of names and values
    (key and result counted apart; a request's result adds its pseudo-header names)."""
    limit = _h2_headers.CACHED_SECTION_MAX
    bound = _h2_headers.SECTIONS_MAX * 2 * (limit + len(b":method:authority:scheme:path"))
    for index in range(2 * _h2_headers.SECTIONS_MAX + 7):
        tag = b"%06d" % index
        value = tag * ((limit - 42 - 32 - len(b"x-big")) // len(tag))
        head = [(b":status", b"200"), (b"x-big", value)]
        response_fields(list(head), head=True)
        assert tuple(head) in _h2_headers._heads  # (as large as may be kept, and kept)
        request = Request("GET", b"http://example.org/" + tag, headers=[(b"X-Big", value[:-32])])
        request_headers(request)
        assert len(_h2_headers._requests) == index % _h2_headers.SECTIONS_MAX + 1
        assert len(_h2_headers._heads) <= _h2_headers.SECTIONS_MAX
        assert len(_h2_headers._requests) <= _h2_headers.SECTIONS_MAX
        assert _stored_bytes(_h2_headers._heads) <= bound
        assert _stored_bytes(_h2_headers._requests) <= bound
