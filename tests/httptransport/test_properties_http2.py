"""Property-based tests of the HTTP/2 connection and pool against scripted server frames.

* Chunking does not matter. A valid server frame stream (SETTINGS, HEADERS with
  CONTINUATION, padding, 1xx heads, DATA split over frames, WINDOW_UPDATE, PING,
  PRIORITY, trailers) gives the same status, headers, body, trailers and extensions
  whether its bytes arrive whole or split anywhere, down to a byte per read. Each
  response is split on its own: the server cannot answer a stream we have not opened.

* Hostile bytes fail cleanly. Random bytes, random frames and valid frame streams with
  defects either give a response or raise one of httptransport's exceptions (never
  h2's, hpack's, hyperframe's or a bare ``ValueError``...), never hang, and leave no
  stream behind: the connection is idle or closed, and what a pool keeps is too.

As for HTTP/1.1 (see ``test_properties_http11.py``), a hang shows as reads after EOF,
which the guarded stream counts.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import struct
import typing

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import httptransport
from httptransport import ConnectionNotAvailable, ConnectionPool, HTTP2Connection, Origin
from netbackend_base import SOCKET_OPTION, NetworkBackend, NetworkStream
from netbackend_mock import MockStream

hpack = pytest.importorskip("hpack")
frame = pytest.importorskip("hyperframe.frame")
pytest.importorskip("h2")

ORIGIN = Origin(b"https", b"example.com", 443)
TARGET = "https://example.com/"
EXTENSIONS: dict[str, typing.Any] = {"timeout": {"read": 5.0, "write": 5.0, "pool": 5.0}}
# What a request may fail with: httptransport's exceptions. ConnectionNotAvailable is
# what a GOAWAY or REFUSED_STREAM gives a request the server did not process.
ALLOWED = (
    httptransport.ProtocolError,
    httptransport.NetworkError,
    httptransport.TimeoutException,
    ConnectionNotAvailable,
)

# One context for every pool (the mock's start_tls ignores it; building one per pool
# would load the CA bundle each time).
SSL_CONTEXT = ssl.create_default_context()

_MAX_EOF_READS = 25
_MAX_CONNECTIONS = 25


def examples(count: int) -> int:
    """``count`` examples in the default matrix cell, a tenth elsewhere (see
    ``tests/conftest.py``: the other cells run the same code on other versions)."""
    if os.environ.get("NETBACKEND_HEAVY_TESTS", "1") == "1":
        return count
    return max(10, count // 10)


PROPERTY = settings(
    max_examples=examples(200),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Hang(BaseException):
    """The client kept reading after EOF, or kept connecting: it would hang on a socket."""


class GuardedStream(MockStream):
    """A mock stream (ALPN h2) that raises :class:`Hang` after too many reads at EOF."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__(chunks, http2=True)
        self.eof_reads = 0

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = super().read(max_bytes, timeout)
        if not data:
            self.eof_reads += 1
            if self.eof_reads > _MAX_EOF_READS:
                raise Hang(f"{self.eof_reads} reads after EOF")
        return data


class GuardedBackend(NetworkBackend):
    """Each connection replays its own copy of ``chunks`` through a :class:`GuardedStream`."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.streams: list[GuardedStream] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        if len(self.streams) >= _MAX_CONNECTIONS:
            raise Hang(f"{len(self.streams)} connections for one script")
        stream = GuardedStream(list(self._chunks))
        self.streams.append(stream)
        return stream

    def sleep(self, seconds: float) -> None:
        pass


# -- valid frame streams ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Reply:
    """The server's frames for one request, and the response they make."""

    raw: bytes
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]]
    stream_id: int


@dataclasses.dataclass(frozen=True)
class Observed:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trailers: list[tuple[bytes, bytes]]
    http_version: bytes
    stream_id: int
    idle: bool


_NAMES = [b"server", b"content-type", b"etag", b"x-trace", b"set-cookie", b"vary", b"date"]
_VALUE_ALPHABET = b"abcXYZ019-_.,;=/\"'()<>@[]{}?~! \t\x80\xe9\xff"
_TO_VALUE = bytes(_VALUE_ALPHABET[i % len(_VALUE_ALPHABET)] for i in range(256))
_value = st.binary(max_size=20).map(lambda b: b.translate(_TO_VALUE).strip(b" \t"))
_fields = st.lists(st.tuples(st.sampled_from(_NAMES), _value), max_size=4)


# Values a server may announce, per setting (RFC 9113 section 6.5.2): HEADER_TABLE_SIZE,
# MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE.
_SETTING_VALUES = {
    0x1: [0, 4096, 65_536],
    0x3: [1, 100, 1000],
    0x4: [0, 65_535, 100_000],
    0x5: [16_384, 100_000],
    0x6: [4096, 100_000],
}


def _padded(draw: st.DrawFn, f: typing.Any) -> typing.Any:
    """``f`` with padding, sometimes. Not when it carries nothing: hyperframe refuses
    padding as long as what follows the Pad Length field, which RFC 9113 (section 6.1)
    allows (it only forbids padding as long as the whole payload)."""
    if f.data and draw(st.integers(0, 3)) == 0:
        f.flags.add("PADDED")
        f.pad_length = draw(st.sampled_from([0, 1, 7, 255]))
    return f


def _extras(draw: st.DrawFn, stream_id: int) -> bytes:
    """Frames a server may put between a response's frames: PING, WINDOW_UPDATE,
    PRIORITY, SETTINGS (and the ACK of ours)."""
    out = b""
    kinds = st.sampled_from(["ping", "window", "priority", "settings"])
    for kind in draw(st.lists(kinds, max_size=2)):
        if kind == "ping":
            out += frame.PingFrame(0, opaque_data=b"12345678").serialize()
        elif kind == "window":
            sid = draw(st.sampled_from([0, stream_id]))
            increment = draw(st.integers(1, 2**20))
            out += frame.WindowUpdateFrame(sid, window_increment=increment).serialize()
        elif kind == "priority":
            out += frame.PriorityFrame(stream_id, depends_on=0, stream_weight=15).serialize()
        else:
            out += frame.SettingsFrame(0, flags=["ACK"]).serialize()
    return out


def _header_block(
    draw: st.DrawFn,
    encoder: typing.Any,
    stream_id: int,
    fields: list[tuple[bytes, bytes]],
    end: bool,
) -> bytes:
    """One header block as HEADERS (maybe padded) and CONTINUATION frames."""
    block = encoder.encode(fields, huffman=draw(st.booleans()))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(block)), max_size=3))))
    pieces = [block[a:b] for a, b in zip([0, *cuts], [*cuts, len(block)], strict=True)]
    headers = frame.HeadersFrame(stream_id, data=pieces[0])
    if end:
        headers.flags.add("END_STREAM")
    if len(pieces) == 1:
        headers.flags.add("END_HEADERS")
    out: bytes = _padded(draw, headers).serialize()
    for i, piece in enumerate(pieces[1:], 2):
        cont = frame.ContinuationFrame(stream_id, data=piece)
        if i == len(pieces):
            cont.flags.add("END_HEADERS")
        out += cont.serialize()
    return out


@st.composite
def reply(draw: st.DrawFn, encoder: typing.Any, stream_id: int, first: bool) -> Reply:
    out = b""
    if first:
        settings_values = {
            code: draw(st.sampled_from(values))
            for code, values in _SETTING_VALUES.items()
            if draw(st.booleans())
        }
        out += frame.SettingsFrame(0, settings=settings_values).serialize()
    out += _extras(draw, stream_id)
    for code in draw(st.lists(st.sampled_from([b"100", b"103"]), max_size=1)):
        out += _header_block(draw, encoder, stream_id, [(b":status", code)], end=False)
    status = draw(st.sampled_from([200, 201, 204, 404, 500]))
    fields = draw(_fields)
    size = draw(st.sampled_from([0, 0, 1, 10, 300, 40_000]))
    body = draw(st.binary(min_size=size, max_size=size)) if size < 1000 else b"ab" * (size // 2)
    trailers = draw(_fields) if draw(st.booleans()) else []
    head_ends = not body and not trailers and draw(st.booleans())
    out += _header_block(
        draw, encoder, stream_id, [(b":status", b"%d" % status), *fields], end=head_ends
    )
    out += _extras(draw, stream_id)
    if not head_ends:
        # DATA frames of the sizes picked, the rest at most 16,000 bytes each (with
        # padding, within the 16,384-byte frame size we allow).
        parts = []
        pos = 0
        for part_size in draw(st.lists(st.integers(1, 16_000), max_size=4)):
            if pos >= len(body):
                break
            parts.append(body[pos : pos + part_size])
            pos += part_size
        while pos < len(body):
            parts.append(body[pos : pos + 16_000])
            pos += 16_000
        if not trailers and (not parts or draw(st.booleans())):
            parts.append(b"")  # an empty DATA frame ends the stream
        for i, part in enumerate(parts):
            data = frame.DataFrame(stream_id, data=part)
            if i == len(parts) - 1 and not trailers:
                data.flags.add("END_STREAM")
            out += _padded(draw, data).serialize()
            if draw(st.integers(0, 3)) == 0:
                out += _extras(draw, stream_id)
        if trailers:
            out += _header_block(draw, encoder, stream_id, trailers, end=True)
    return Reply(out, status, fields, body, trailers, stream_id)


@st.composite
def replies(draw: st.DrawFn) -> list[Reply]:
    """One to three responses on one connection (streams 1, 3, 5), one HPACK context."""
    encoder = hpack.Encoder()
    count = draw(st.integers(1, 3))
    return [draw(reply(encoder, 2 * i + 1, first=i == 0)) for i in range(count)]


@st.composite
def split(draw: st.DrawFn, raw: bytes) -> list[bytes]:
    """``raw`` cut into non-empty chunks: every k bytes, or at cut points picked."""
    if len(raw) <= 1:
        return [raw] if raw else []
    if len(raw) <= 4096 and draw(st.booleans()):
        k = draw(st.integers(1, 7))
        return [raw[i : i + k] for i in range(0, len(raw), k)]
    cuts = sorted(set(draw(st.lists(st.integers(1, len(raw) - 1), min_size=1, max_size=16))))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Reply], list[bytes]]:
    rs = draw(replies())
    chunks: list[bytes] = []
    for r in rs:
        chunks += draw(split(r.raw))
    return rs, chunks


def _run_connection(count: int, chunks: list[bytes]) -> list[Observed]:
    conn = HTTP2Connection(ORIGIN, GuardedStream(chunks))
    out = []
    for _ in range(count):
        response = conn.request("GET", TARGET, extensions=EXTENSIONS)
        extensions = response.extensions
        out.append(
            Observed(
                status=response.status,
                headers=list(response.headers),
                body=response.content,
                trailers=list(extensions["trailers"]),
                http_version=extensions["http_version"],
                stream_id=extensions["stream_id"],
                idle=conn.is_idle(),
            )
        )
    return out


@pytest.mark.timeout(60)
@PROPERTY
@given(scenarios())
def test_any_chunking_gives_the_same_responses(
    scenario: tuple[list[Reply], list[bytes]],
) -> None:
    """Unsplit, each response is what the frames say; split anywhere, the same."""
    rs, chunks = scenario
    whole = _run_connection(len(rs), [r.raw for r in rs])
    assert whole == [
        Observed(r.status, r.headers, r.body, r.trailers, b"HTTP/2", r.stream_id, True) for r in rs
    ]
    assert _run_connection(len(rs), chunks) == whole


@pytest.mark.timeout(60)
@settings(PROPERTY, max_examples=examples(60))
@given(scenarios())
def test_any_chunking_gives_the_same_responses_through_a_pool(
    scenario: tuple[list[Reply], list[bytes]],
) -> None:
    """Through a pool (ALPN h2): the same responses, on one connection, kept idle."""
    rs, chunks = scenario
    backend = GuardedBackend(chunks)
    with ConnectionPool(network_backend=backend, http2=True, ssl_context=SSL_CONTEXT) as pool:
        for r in rs:
            response = pool.request("GET", TARGET, extensions=EXTENSIONS)
            assert (response.status, response.headers, response.content) == (
                r.status,
                r.headers,
                r.body,
            )
            assert response.extensions["trailers"] == r.trailers
            assert response.extensions["http_version"] == b"HTTP/2"
        assert len(backend.streams) == 1
        assert [c.is_idle() for c in pool.connections] == [True]


# -- hostile bytes ------------------------------------------------------------------

_SETTINGS = frame.SettingsFrame(0).serialize()


def _raw_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    head = struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", kind, flags, stream_id)
    return head + payload


# A frame of any type (known ones more often), any flags, on a plausible stream.
_random_frame = st.builds(
    _raw_frame,
    st.one_of(st.integers(0, 9), st.integers(0, 255)),
    st.integers(0, 255),
    st.sampled_from([0, 1, 1, 1, 3, 2, 2**31 - 1, 2**31 + 1]),
    st.binary(max_size=24),
)


@st.composite
def mutated(draw: st.DrawFn) -> list[bytes]:
    """Valid frame streams with one to three defects, or random frames after SETTINGS,
    then split anywhere."""
    if draw(st.booleans()):
        raw = b"".join(r.raw for r in draw(replies()))
        for _ in range(draw(st.integers(1, 3))):
            if not raw:
                break
            kind = draw(st.sampled_from(["flip", "cut", "insert", "drop", "frame"]))
            at = draw(st.integers(0, len(raw) - 1))
            if kind == "flip":
                bit = draw(st.sampled_from([0x01, 0x04, 0x10, 0x40, 0x80, 0xFF]))
                raw = raw[:at] + bytes([raw[at] ^ bit]) + raw[at + 1 :]
            elif kind == "cut":
                raw = raw[:at]
            elif kind == "insert":
                raw = raw[:at] + draw(st.binary(min_size=1, max_size=9)) + raw[at:]
            elif kind == "drop":
                raw = raw[:at] + raw[at + draw(st.integers(1, 12)) :]
            else:
                raw = raw[:at] + draw(_random_frame) + raw[at:]
    else:
        raw = _SETTINGS + b"".join(draw(st.lists(_random_frame, max_size=6)))
    return draw(split(raw))


@st.composite
def bad_header_block(draw: st.DrawFn) -> list[bytes]:
    """A response whose header block is arbitrary bytes (through h2 to our decoder)."""
    block = draw(st.binary(max_size=40))
    raw = _SETTINGS + frame.HeadersFrame(1, data=block, flags=["END_HEADERS"]).serialize()
    raw += frame.DataFrame(1, data=b"ok", flags=["END_STREAM"]).serialize()
    return [raw]


_HOSTILE = st.one_of(
    mutated(),
    bad_header_block(),
    st.binary(max_size=200).map(lambda b: [b] if b else []),
    st.binary(max_size=200).map(lambda b: [_SETTINGS + b]),
)

_EXAMPLES: list[list[bytes]] = [
    [],
    [_SETTINGS],
    [_SETTINGS + _raw_frame(0, 1, 0, b"x")],  # DATA on stream 0
    [_SETTINGS + _raw_frame(7, 0, 0, b"\x00" * 8)],  # GOAWAY, last stream 0
    [_SETTINGS + _raw_frame(3, 0, 1, b"\x00\x00\x00\x07")],  # RST_STREAM REFUSED
    [_SETTINGS + _raw_frame(1, 4, 1, b"\x80")],  # header index 0
    [_SETTINGS + _raw_frame(1, 0, 1, b"\x88")],  # HEADERS without END_HEADERS, then EOF
]


def _request_all(conn: HTTP2Connection, count: int) -> None:
    for _ in range(count):
        try:
            response = conn.request("GET", TARGET, extensions=EXTENSIONS)
        except ALLOWED:
            assert conn.is_idle() or conn.is_closed()
            return
        assert response.status >= 100
        assert conn.is_idle() or conn.is_closed()


@pytest.mark.timeout(60)
@PROPERTY
@given(_HOSTILE)
def test_hostile_bytes_fail_cleanly_on_a_connection(chunks: list[bytes]) -> None:
    """Our exceptions only; no stream left open; nothing reads on after EOF."""
    conn = HTTP2Connection(ORIGIN, GuardedStream(chunks))
    try:
        _request_all(conn, 2)
    finally:
        conn.close()


for _chunks in _EXAMPLES:
    test_hostile_bytes_fail_cleanly_on_a_connection = example(_chunks)(
        test_hostile_bytes_fail_cleanly_on_a_connection
    )


@pytest.mark.timeout(60)
@settings(PROPERTY, max_examples=examples(80))
@given(_HOSTILE)
def test_hostile_bytes_leave_no_half_used_connection_in_a_pool(chunks: list[bytes]) -> None:
    """Through a pool: our exceptions only, and every connection it keeps is idle."""
    backend = GuardedBackend(chunks)
    with ConnectionPool(network_backend=backend, http2=True, ssl_context=SSL_CONTEXT) as pool:
        for _ in range(2):
            try:
                response = pool.request("GET", TARGET, extensions=EXTENSIONS)
            except ALLOWED:
                break
            finally:
                assert all(c.is_idle() for c in pool.connections)
            assert response.status >= 100
