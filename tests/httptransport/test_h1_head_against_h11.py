"""The lean response-head parser (``_h1_head.parse_head``) against h11, differentially.

Heads are built by hypothesis from the pieces a server sends (status lines, field
lines, line endings) and from hostile bytes (bare CR or LF, control characters, folded
lines, odd framing). Whatever the lean parser accepts, h11 must accept too and read the
same way: status, reason, header fields (names as sent, values without their optional
whitespace), body length and keep-alive. Each head is parsed twice, so that the second
parse runs from the cache of remembered lines, status line included.
"""

from __future__ import annotations

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
