"""Every refusal of the lean HTTP/1.1 paths in ``_h1_head``, one at a time.

Each refusal is pinned twice:

* directly: ``prepare_head``/``parse_head`` return ``None`` for an input that differs
  from an accepted one in the refused feature only, and the exact result for the
  accepted one (so the test fails if the refusal goes, and also if it grows);
* through a connection on the mock backend, with the lean functions and the h11 cycle
  watched: the lean function declined, h11 ran, and what h11 made of the input (its
  error message, or bytes/headers only h11 produces) is what the caller got.
"""

from __future__ import annotations

import typing

import pytest

from httptransport import (
    HTTP11Connection,
    LocalProtocolError,
    Origin,
    RemoteProtocolError,
    Request,
)
from httptransport import _h1_head as h1
from httptransport._sync import http11

netbackend_mock = pytest.importorskip("netbackend_mock")

ORIGIN = Origin(b"http", b"example.com", 80)
URL = "http://example.com/"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
Headers = list[tuple[bytes, bytes]]


# Each test starts and ends with empty caches of parsed lines and heads.
pytestmark = pytest.mark.usefixtures("empty_h1_caches")


# -- requests: prepare_head ---------------------------------------------------------


def _prepare(
    headers: Headers, method: bytes = b"POST", target: bytes | None = None
) -> tuple[bytes, int, bool] | None:
    extensions = {} if target is None else {"target": target}
    return h1.prepare_head(Request(method, URL, headers=headers, extensions=extensions))


def test_prepare_plain_request() -> None:
    """An ordinary request: the exact head, no body (length 0), keep-alive."""
    head = b"GET /p?q HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Empty: \r\n\r\n"
    assert h1.prepare_head(
        Request(
            "GET",
            "http://example.com/p?q",
            headers=[(b"Host", b"x"), (b"Accept", b"*/*"), (b"X-Empty", b"")],
        )
    ) == (head, 0, True)


@pytest.mark.parametrize(
    ("headers", "length"),
    [
        ([(b"Content-Length", b"0")], 0),
        ([(b"Content-Length", b"17")], 17),
        ([(b"Content-Length", b"9" * 20)], int(b"9" * 20)),  # the most digits taken
        ([(b"Transfer-Encoding", b"chunked")], -1),
        ([(b"Transfer-Encoding", b"ChUnKeD")], -1),
    ],
)
def test_prepare_accepted_framing(headers: Headers, length: int) -> None:
    """One Content-Length of up to 20 digits, or one Transfer-Encoding: chunked."""
    result = _prepare([(b"Host", b"x"), *headers])
    assert result is not None
    head, got_length, keep_alive = result
    assert (got_length, keep_alive) == (length, True)
    name, value = headers[0]
    assert head == b"POST / HTTP/1.1\r\nHost: x\r\n" + name + b": " + value + b"\r\n\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"Content-Length", b"1"), (b"Content-Length", b"1")], id="second-CL"),
        pytest.param([(b"Content-Length", b"1"), (b"Transfer-Encoding", b"chunked")], id="CL+TE"),
        pytest.param([(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"1")], id="TE+CL"),
        pytest.param(
            [(b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")],
            id="second-TE",
        ),
        pytest.param([(b"Content-Length", b"+1")], id="CL-sign"),
        pytest.param([(b"Content-Length", b"1a")], id="CL-non-digit"),
        pytest.param([(b"Content-Length", b"")], id="CL-empty"),
        pytest.param([(b"Content-Length", b"9" * 21)], id="CL-21-digits"),
        pytest.param([(b"Transfer-Encoding", b"gzip")], id="TE-gzip"),
        pytest.param([(b"Transfer-Encoding", b"gzip, chunked")], id="TE-list"),
        pytest.param([(b"Upgrade", b"websocket")], id="upgrade"),
        pytest.param([(b"Bad Name", b"1")], id="name-not-token"),
        pytest.param([(b"X", b"a\x00")], id="value-control"),
        pytest.param([(b"X", b" a")], id="value-leading-space"),
    ],
)
def test_prepare_refusals(headers: Headers) -> None:
    """Each header the lean path does not frame or validate itself sends it to h11."""
    assert _prepare([(b"Host", b"x"), *headers]) is None


def test_prepare_refuses_without_host_and_for_odd_methods_and_targets() -> None:
    """No Host; CONNECT (a valid token); a method that is no token; a bad target."""
    host = [(b"Host", b"x")]
    assert _prepare([]) is None
    assert _prepare([(b"Accept", b"*/*")]) is None
    assert _prepare(host, method=b"CONNECT") is None
    assert _prepare(host, method=b"CONNECTX") is not None
    assert _prepare(host, method=b"GE T") is None
    assert _prepare(host, target=b"/ a") is None
    assert _prepare(host, target=b"/a") is not None


@pytest.mark.parametrize(
    ("value", "keep_alive"),
    [
        (b"close", False),
        (b"Keep-Alive, CLOSE", False),
        (b"x,\tclose ,y", False),
        (b"keep-alive", True),
        (b"closed", True),
        (b"x-close", True),
    ],
)
def test_prepare_connection_close(value: bytes, keep_alive: bool) -> None:
    """A ``close`` token in Connection (any case, any position) ends keep-alive."""
    result = _prepare([(b"Host", b"x"), (b"Connection", value)])
    assert result is not None
    assert result[1:] == (0, keep_alive)


def test_prepare_later_headers_do_not_undo_close_or_framing() -> None:
    """Headers after Connection: close and after the framing header change neither."""
    result = _prepare(
        [
            (b"Connection", b"close"),
            (b"Host", b"x"),
            (b"Content-Length", b"3"),
            (b"Connection", b"keep-alive"),
            (b"X", b"1"),
        ]
    )
    assert result is not None
    assert result[1:] == (3, False)


# -- responses: _header_line and parse_head -----------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"Server: test", ((b"Server", b"test"), h1._PLAIN)),
        (b"X:  \tpadded \t ", ((b"X", b"padded"), h1._PLAIN)),
        (b"X:", ((b"X", b""), h1._PLAIN)),
        (b"X: a:b", ((b"X", b"a:b"), h1._PLAIN)),
        (b"Content-Length: 12", ((b"Content-Length", b"12"), h1._LENGTH)),
        (b"content-length:  7 ", ((b"content-length", b"7"), h1._LENGTH)),
        (b"Content-Length: " + b"1" * 20, ((b"Content-Length", b"1" * 20), h1._LENGTH)),
        (b"Connection: keep-alive, Close", ((b"Connection", b"keep-alive, Close"), h1._CLOSE)),
        (b"Connection: keep-alive", ((b"Connection", b"keep-alive"), h1._PLAIN)),
        (b"X-Connection: close", ((b"X-Connection", b"close"), h1._PLAIN)),
    ],
)
def test_header_line_accepted(line: bytes, expected: typing.Any) -> None:
    """A field line: its name, its value without OWS, and what it means for framing."""
    assert h1._header_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"NoColon", id="no-colon"),
        pytest.param(b": empty-name", id="empty-name"),
        pytest.param(b"Bad Name: 1", id="name-not-token"),
        pytest.param(b" X: folded", id="obs-fold"),
        pytest.param(b"Content-Length: +2", id="CL-sign"),
        pytest.param(b"Content-Length: 2a", id="CL-non-digit"),
        pytest.param(b"Content-Length: 1, 1", id="CL-list"),
        pytest.param(b"Content-Length:", id="CL-empty"),
        pytest.param(b"Content-Length: " + b"1" * 21, id="CL-21-digits"),
        pytest.param(b"Transfer-Encoding: chunked", id="TE"),
        pytest.param(b"transfer-encoding: identity", id="TE-identity"),
    ],
)
def test_header_line_refusals(line: bytes) -> None:
    """Lines the lean parser leaves to h11."""
    assert h1._header_line(line) is None


def _parse(head: bytes, method: bytes = b"GET") -> typing.Any:
    return h1.parse_head(head, method)


def test_parse_plain_response() -> None:
    """An ordinary head: status, reason, headers in order with their case, length, keep-alive."""
    assert _parse(b"HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 5") == (
        200,
        b"OK",
        [(b"Server", b"s"), (b"Content-Length", b"5")],
        5,
        True,
    )
    assert _parse(b"HTTP/1.1 404 \r\nContent-Length: 0") == (
        404,
        b"",
        [(b"Content-Length", b"0")],
        0,
        True,
    )
    assert _parse(b"HTTP/1.1 200 OK\r\nX: \t tab\tok\t\r\nContent-Length: 1")[2][0] == (
        b"X",
        b"tab\tok",
    )


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 2", id="bare-LF"),
        pytest.param(b"HTTP/1.1 200 OK\nContent-Length: 2", id="bare-LF-status-line"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2", id="bare-CR"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r", id="trailing-CR"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: \x01\r\nContent-Length: 2", id="control-char"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: \x7f\r\nContent-Length: 2", id="DEL"),
        pytest.param(b"HTTP/1.0 200 OK\r\nContent-Length: 2", id="HTTP/1.0"),
        pytest.param(b"HTTP/1.1 100 Continue\r\nContent-Length: 2", id="1xx"),
        pytest.param(b"HTTP/1.1 20 OK\r\nContent-Length: 2", id="short-status"),
        pytest.param(b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2", id="no-colon"),
        pytest.param(b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2", id="obs-fold"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: +2", id="CL-sign"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 1" + b"0" * 20, id="CL-21-digits"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2", id="second-CL"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked", id="CL+TE"
        ),
        pytest.param(b"HTTP/1.1 200 OK\r\nServer: s", id="no-length"),
        pytest.param(b"HTTP/1.1 200 OK", id="no-headers"),
    ],
)
def test_parse_refusals(head: bytes) -> None:
    """Heads the lean parser leaves to h11: each differs from an accepted one in one way."""
    assert _parse(head) is None


def test_parse_counts_lines_exactly() -> None:
    """CRLF only: as many CR and LF as line breaks; one stray CR or LF more is refused."""
    good = b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 0"
    assert _parse(good) is not None
    assert _parse(good.replace(b"A: 1", b"A: 1\n")) is None
    assert _parse(good.replace(b"A: 1", b"A: 1\r")) is None
    assert _parse(good.replace(b"A: 1", b"A: 1\n\r")) is None


def test_parse_repeated_length_refused_also_when_remembered() -> None:
    """A second Content-Length line is refused the first time and once the line (the same
    bytes, so also the same value) has been remembered."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2"
    assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2") is not None
    assert b"Content-Length: 2" in h1._lines
    assert _parse(head) is None
    assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 0") is None


@pytest.mark.parametrize(
    ("status", "method", "length_header", "length"),
    [
        (200, b"HEAD", b"", 0),
        (200, b"HEAD", b"\r\nContent-Length: 100", 0),
        (204, b"GET", b"", 0),
        (304, b"GET", b"\r\nContent-Length: 7", 0),
        (205, b"GET", b"\r\nContent-Length: 3", 3),
        (203, b"GET", b"\r\nContent-Length: 3", 3),
        (303, b"GET", b"\r\nContent-Length: 3", 3),
        (305, b"GET", b"\r\nContent-Length: 3", 3),
        (200, b"GET", b"\r\nContent-Length: 0", 0),
        (200, b"GET", b"\r\nContent-Length: 1", 1),
        (200, b"GET", b"\r\nContent-Length: " + b"9" * 20, int(b"9" * 20)),
    ],
)
def test_parse_body_length(status: int, method: bytes, length_header: bytes, length: int) -> None:
    """HEAD, 204 and 304 end at the head whatever Content-Length says; other statuses
    (203, 205, 303, 305 included) are framed by it, 0 and 20 digits included."""
    parsed = _parse(b"HTTP/1.1 %d X%b" % (status, length_header), method)
    assert parsed is not None
    assert (parsed[0], parsed[3]) == (status, length)


def test_parse_unframed_responses_that_need_no_length() -> None:
    """Without Content-Length, only HEAD, 204 and 304 stay on the lean path."""
    assert _parse(b"HTTP/1.1 205 X") is None
    assert _parse(b"HTTP/1.1 203 X") is None
    assert _parse(b"HTTP/1.1 303 X") is None
    assert _parse(b"HTTP/1.1 204 X") == (204, b"X", [], 0, True)
    assert _parse(b"HTTP/1.1 304 X") == (304, b"X", [], 0, True)
    assert _parse(b"HTTP/1.1 200 X", b"HEAD") == (200, b"X", [], 0, True)


@pytest.mark.parametrize(
    ("line", "keep_alive"),
    [
        (b"Connection: close", False),
        (b"Connection: Keep-Alive, close", False),
        (b"Connection: keep-alive", True),
        (b"Connection: closed", True),
        (b"X-Other: close", True),
    ],
)
def test_parse_connection_close(line: bytes, keep_alive: bool) -> None:
    """A ``close`` token in Connection ends keep-alive (also when the line is remembered)."""
    for _ in range(2):
        parsed = _parse(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0")
        assert parsed is not None
        assert parsed[4] is keep_alive
        assert parsed[3] == 0


def test_line_cache_bounds() -> None:
    """Lines of up to 200 bytes are remembered (the status line too), longer ones never;
    the cache holds up to 1024 lines and is emptied when a line arrives with it full."""
    short = b"X: " + b"a" * 197  # 200 bytes
    long = b"X: " + b"b" * 198  # 201 bytes
    assert len(short) == 200
    assert len(long) == 201
    assert _parse(b"HTTP/1.1 200 OK\r\n" + short + b"\r\n" + long + b"\r\nContent-Length: 0")
    assert set(h1._lines) == {b"HTTP/1.1 200 OK", short, b"Content-Length: 0"}
    assert h1._lines[short] == ((b"X", b"a" * 197), h1._PLAIN)
    assert h1._lines[b"HTTP/1.1 200 OK"] == ((b"HTTP/1.1", b"OK"), 200)
    h1._lines.clear()
    for n in range(1023):
        assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: %d" % n) is not None
    assert len(h1._lines) == 1024  # full, not emptied yet
    assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1023") is not None
    assert list(h1._lines) == [b"Content-Length: 1023"]
    # A remembered line is served from the cache even when full (past the cache of
    # whole heads).
    h1._heads.clear()
    assert _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1023")[3] == 1023
    assert len(h1._lines) == 2
    # A long status line is never remembered.
    long_status = b"HTTP/1.1 200 " + b"c" * 188  # 201 bytes
    assert _parse(long_status + b"\r\nContent-Length: 0") == (
        200,
        b"c" * 188,
        [(b"Content-Length", b"0")],
        0,
        True,
    )
    assert long_status not in h1._lines


def test_cached_status_line_is_no_field_line_and_vice_versa() -> None:
    """A remembered status line where a field line belongs, or a remembered field line
    where the status line belongs, is refused as it would be if it were not remembered."""
    assert _parse(b"HTTP/1.1 200 a:b\r\nContent-Length: 0") == (
        200,
        b"a:b",
        [(b"Content-Length", b"0")],
        0,
        True,
    )
    assert _parse(b"HTTP/1.1 200 OK\r\nHTTP/1.1 200 a:b\r\nContent-Length: 0") is None
    assert _parse(b"Content-Length: 0\r\nContent-Length: 0") is None
    h1._lines.clear()
    assert _parse(b"HTTP/1.1 200 OK\r\nHTTP/1.1 200 a:b\r\nContent-Length: 0") is None


def test_bare_cr_or_lf_in_a_line_is_refused_even_after_a_clean_head() -> None:
    """A line with a bare CR or LF or a control character goes to h11, also when the
    head's other lines are remembered."""
    clean = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0"
    assert _parse(clean) is not None
    for bad in (b"Server: x\ry", b"Server: x\ny", b"Server: x\x00y", b"Server: x\x7fy"):
        assert _parse(clean + b"\r\n" + bad) is None
        assert bad not in h1._lines
    for bad_status in (b"HTTP/1.1 200 O\rK", b"HTTP/1.1 200 O\nK", b"HTTP/1.1 200 O\x01K"):
        assert _parse(bad_status + b"\r\nContent-Length: 0") is None
    assert _parse(b"HTTP/1.1 200 OK\r\r\nContent-Length: 0") is None
    assert _parse(b"HTTP/1.1 200 OK\r\n\nContent-Length: 0") is None


def test_remembered_lines_are_not_refused_again() -> None:
    """A line refused by the lean parser is never remembered (h11 gets it every time)."""
    for _ in range(2):
        assert _parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked") is None
    assert list(h1._lines) == [b"HTTP/1.1 200 OK"]  # the status line itself was fine


# -- through a connection: which path ran, and what came of it -----------------------


class _Watch:
    """Records what the lean functions returned and whether the h11 cycle ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prepared: list[object] = []
        self.parsed: list[object] = []
        self.h11_cycles = 0
        prepare, parse = h1.prepare_head, h1.parse_head
        cycle = http11.HTTP11Connection._h11_cycle

        def watched_prepare(request: Request) -> typing.Any:
            result = prepare(request)
            self.prepared.append(result)
            return result

        def watched_parse(head: bytes, method: bytes) -> typing.Any:
            result = parse(head, method)
            self.parsed.append(result)
            return result

        def watched_cycle(*args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            self.h11_cycles += 1
            return cycle(*args, **kwargs)

        monkeypatch.setattr(http11, "prepare_head", watched_prepare)
        monkeypatch.setattr(http11, "parse_head", watched_parse)
        monkeypatch.setattr(http11.HTTP11Connection, "_h11_cycle", watched_cycle)


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> _Watch:
    return _Watch(monkeypatch)


def _connection(chunks: list[bytes]) -> tuple[HTTP11Connection, typing.Any]:
    stream = netbackend_mock.MockBackend(chunks).connect_tcp("example.com", 80)
    return HTTP11Connection(ORIGIN, stream), stream


def test_lean_request_and_response_use_no_h11(watch: _Watch) -> None:
    """The control case: a plain exchange goes the lean way both ways."""
    conn, stream = _connection([OK])
    response = conn.request("POST", URL, headers={"Host": "x"}, content=b"abc")
    assert response.content == b"hello"
    assert watch.prepared[0] is not None
    assert watch.parsed[0] is not None
    assert watch.h11_cycles == 0
    assert stream.data_written == b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param(
            [(b"Content-Length", b"1"), (b"Content-Length", b"2")],
            "^conflicting Content-Length headers$",
            id="second-CL",
        ),
        pytest.param(
            [(b"Content-Length", b"1"), (b"Transfer-Encoding", b"chunked")],
            "^A request cannot have both Content-Length and Transfer-Encoding.$",
            id="CL+TE",
        ),
        pytest.param(
            [(b"Transfer-Encoding", b"chunked"), (b"Content-Length", b"1")],
            "^A request cannot have both Content-Length and Transfer-Encoding.$",
            id="TE+CL",
        ),
        pytest.param(
            [(b"Transfer-Encoding", b"chunked"), (b"Transfer-Encoding", b"chunked")],
            "^multiple Transfer-Encoding headers$",
            id="second-TE",
        ),
        pytest.param([(b"Content-Length", b"+1")], "^bad Content-Length$", id="CL-sign"),
        pytest.param([(b"Content-Length", b"1" * 21)], "^bad Content-Length$", id="CL-21"),
        pytest.param(
            [(b"Transfer-Encoding", b"gzip")],
            "^Only Transfer-Encoding: chunked is supported$",
            id="TE-gzip",
        ),
        pytest.param([(b"Bad Name", b"1")], "^Illegal header name", id="bad-name"),
        pytest.param([(b"X", b"a\x00")], "^Illegal header value", id="bad-value"),
    ],
)
def test_refused_requests_get_h11s_error(watch: _Watch, headers: Headers, message: str) -> None:
    """A request the lean path refuses goes to h11, whose error the caller gets, and
    nothing is written."""
    conn, stream = _connection([OK])
    request = Request("POST", URL, headers=[(b"Host", b"x"), *headers], content=b"a")
    with pytest.raises(LocalProtocolError, match=message):
        conn.handle_request(request)
    assert watch.prepared == [None]
    assert watch.h11_cycles == 1
    assert stream.data_written == b""


def test_refused_request_without_error_is_written_by_h11(watch: _Watch) -> None:
    """Two equal Content-Length fields: h11 sends the request with one of them (the lean
    path would have copied both)."""
    conn, stream = _connection([OK])
    request = Request(
        "POST",
        URL,
        headers=[(b"Host", b"x"), (b"Content-Length", b"1"), (b"Content-Length", b"1")],
        content=b"a",
    )
    assert conn.handle_request(request).read() == b"hello"
    assert watch.prepared == [None]
    assert watch.parsed == []  # h11 read the response too
    assert watch.h11_cycles == 1
    assert stream.data_written == b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"


@pytest.mark.parametrize(
    ("method", "target", "message"),
    [
        (b"GE T", b"/", "^Illegal method characters$"),
        (b"GET", b"/ a", "^Illegal target characters$"),
    ],
)
def test_refused_method_and_target_get_h11s_error(
    watch: _Watch, method: bytes, target: bytes, message: str
) -> None:
    """A method that is no token, a target with a space: h11's errors."""
    conn, stream = _connection([OK])
    request = Request(method, URL, headers=[(b"Host", b"x")], extensions={"target": target})
    with pytest.raises(LocalProtocolError, match=message):
        conn.handle_request(request)
    assert (watch.prepared, watch.h11_cycles, stream.data_written) == ([None], 1, b"")


def test_missing_host_gets_h11s_error(watch: _Watch) -> None:
    """Without Host (which ``request()`` would add), h11's error."""
    conn, _ = _connection([OK])
    with pytest.raises(LocalProtocolError, match=r"^Missing mandatory Host: header$"):
        conn.handle_request(Request("GET", URL))
    assert (watch.prepared, watch.h11_cycles) == ([None], 1)


def _get(conn: HTTP11Connection) -> typing.Any:
    return conn.handle_request(Request("GET", URL, headers=[(b"Host", b"x")]))


@pytest.mark.parametrize(
    ("head", "message"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok",
            "^conflicting Content-Length headers$",
            id="second-CL",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nok",
            "^illegal header line",
            id="bare-CR",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
            "^bad Content-Length$",
            id="CL-sign",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1" + b"0" * 20 + b"\r\n\r\nok",
            "^bad Content-Length$",
            id="CL-21-digits",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 2\r\n\r\nok",
            "^illegal header line",
            id="bad-name",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok",
            "^illegal header line",
            id="no-colon",
        ),
    ],
)
def test_refused_responses_get_h11s_error(watch: _Watch, head: bytes, message: str) -> None:
    """A response head the lean parser declines is parsed by h11, whose error it is."""
    conn, _ = _connection([head])
    with pytest.raises(RemoteProtocolError, match=message):
        _get(conn)
    assert watch.prepared[0] is not None  # the request itself went the lean way
    assert watch.parsed == [None]
    assert watch.h11_cycles == 1
    assert conn.is_closed()


@pytest.mark.parametrize(
    ("head", "headers", "reusable"),
    [
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
            [(b"Content-Length", b"2")],
            True,
            id="second-equal-CL",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\nContent-Length: 2\r\n\r\nok",
            [(b"X-A", b"1"), (b"X-B", b"2"), (b"Content-Length", b"2")],
            True,
            id="bare-LF",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n",
            [(b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")],
            False,
            id="CL+TE",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
            [(b"X", b"a b"), (b"Content-Length", b"2")],
            True,
            id="obs-fold",
        ),
    ],
)
def test_refused_responses_h11_accepts(
    watch: _Watch, head: bytes, headers: Headers, reusable: bool
) -> None:
    """Heads h11 accepts after the lean parser declined: the headers are h11's (one
    Content-Length of two equal ones; a bare LF as a line break; folding joined), and a
    response with both Content-Length and Transfer-Encoding is read by the latter and
    never lets the connection be reused."""
    conn, _ = _connection([head])
    response = _get(conn)
    assert response.read() == b"ok"
    assert response.headers == headers
    assert watch.parsed == [None]
    assert watch.h11_cycles == 1
    assert conn.is_closed() is not reusable
    assert conn.is_idle() is reusable


def test_head_cache() -> None:
    """Whole heads are remembered before the method's rule, which every call applies;
    each call gets a list of its own."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5"
    first = h1.parse_head(head, b"GET")
    assert first == (200, b"OK", [(b"Content-Length", b"5")], 5, True)
    assert list(h1._heads) == [head]
    second = h1.parse_head(head, b"GET")
    assert second == first
    assert second is not None
    assert second[2] is not first[2]
    assert h1.parse_head(head, b"HEAD") == (200, b"OK", [(b"Content-Length", b"5")], 0, True)
    # Close-delimited: remembered, still h11's for GET, and empty for HEAD.
    close = b"HTTP/1.1 200 OK\r\nConnection: close"
    for _ in range(2):
        assert h1.parse_head(close, b"GET") is None
        assert close in h1._heads
        assert h1.parse_head(close, b"HEAD") == (200, b"OK", [(b"Connection", b"close")], 0, False)
    no_body = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7"
    for _ in range(2):
        assert h1.parse_head(no_body, b"GET") == (
            304,
            b"Not Modified",
            [(b"Content-Length", b"7")],
            0,
            True,
        )
    # A head the lean parser refuses is not remembered.
    assert h1.parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", b"GET") is None
    assert len(h1._heads) == 3


def test_head_cache_bounds() -> None:
    """Heads of up to 1024 bytes are remembered, longer ones never; the cache holds up to
    64 heads and is emptied when a head arrives with it full."""
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: "
    at = start + b"a" * (1024 - len(start))
    over = start + b"b" * (1025 - len(start))
    assert (len(at), len(over)) == (1024, 1025)
    assert h1.parse_head(at, b"GET") is not None
    assert h1.parse_head(over, b"GET") is not None
    assert list(h1._heads) == [at]
    h1._heads.clear()
    for n in range(64):
        assert h1.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: %d" % n, b"GET") is not None
    assert len(h1._heads) == 64  # full, not emptied yet
    # A remembered head is served from the cache even when full.
    assert h1.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 63", b"GET") is not None
    assert len(h1._heads) == 64
    assert h1.parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 64", b"GET") is not None
    assert list(h1._heads) == [b"HTTP/1.1 200 OK\r\nContent-Length: 64"]
