"""docs/memory-bounds.md stays true: every constant its tables name has the value written
there, and the process-wide caches stay within the byte bounds it states however many
over-limit entries they are offered."""

from __future__ import annotations

import importlib
import re
import typing
from pathlib import Path

import pytest

from httptransport import _h1_head, _headers, _models

DOC = Path(__file__).resolve().parents[2] / "docs" / "memory-bounds.md"
# A constant in a table cell: `module.path.NAME` = 12345
CONSTANT = re.compile(r"`([A-Za-z_][\w.]*)` = (\d+)\b")
# A table row (not the separator line under a header).
ROW = re.compile(r"^\|(?!\s*-)(.*)\|\s*$", re.MULTILINE)


def _documented() -> list[tuple[str, int]]:
    """``(dotted name, value)`` for every constant in the tables' constant column."""
    found: list[tuple[str, int]] = []
    for row in ROW.finditer(DOC.read_text(encoding="utf-8")):
        cells = [cell.strip() for cell in row.group(1).split("|")]
        if len(cells) != 5 or cells[0] == "where":
            continue
        found.extend((name, int(value)) for name, value in CONSTANT.findall(cells[3]))
    return found


def _resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted``, then follow attributes;
    skip when the module's package is not installed in this matrix cell."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing == module_name:
                continue  # not a module: a class or an attribute further on
            pytest.skip(f"{dotted}: {missing} is not installed in this matrix cell")
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise AssertionError(f"{dotted}: no module of it can be imported")


def test_the_tables_name_constants() -> None:
    """The parser finds the tables (a broken table would make the next test vacuous)."""
    names = {name for name, _ in _documented()}
    assert "httptransport._headers.NAMES_MAX" in names
    assert "httptransport._h2_adapter.STREAM_WINDOW" in names
    assert len(names) >= 20


@pytest.mark.parametrize(("name", "value"), _documented(), ids=[n for n, _ in _documented()])
def test_documented_constant_matches_the_code(name: str, value: int) -> None:
    """Each constant has the value the doc gives: change one, change the doc."""
    assert _resolve(name) == value, f"{name} changed: update docs/memory-bounds.md"


def _stored_bytes(cache: typing.Mapping[typing.Any, typing.Any]) -> int:
    """The payload bytes of a cache: every bytes or str in its keys and values."""

    def size(item: object) -> int:
        if isinstance(item, (bytes, str)):
            return len(item)
        if isinstance(item, tuple):
            return sum(size(part) for part in item)
        return 0

    return sum(size(key) + size(value) for key, value in cache.items())


def test_header_line_cache_stays_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct lines than the cache holds, at and over the cached length: the
    cache never holds more than _LINES_MAX x 2 x _LINE_CACHED_MAX bytes, and no line
    over _LINE_CACHED_MAX."""
    monkeypatch.setattr(_h1_head, "_lines", {})
    limit = _h1_head._LINE_CACHED_MAX
    bound = _h1_head._LINES_MAX * 2 * limit
    for index in range(_h1_head._LINES_MAX + 200):
        for length in (limit, limit + 1):
            prefix = b"X-%d: " % index
            line = prefix + b"v" * (length - len(prefix))
            head = b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0"
            parsed = _h1_head.parse_head(head, b"GET")
            assert parsed is not None
            assert parsed[2][0] == (b"X-%d" % index, line[len(prefix) :])
        assert len(_h1_head._lines) <= _h1_head._LINES_MAX
        if len(_h1_head._lines) >= _h1_head._LINES_MAX - 2:  # at its fullest
            assert _stored_bytes(_h1_head._lines) <= bound
    assert all(len(line) <= limit for line in _h1_head._lines)


def test_url_cache_stays_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct URLs than the cache holds, at and over the cached length: it never
    holds more than _PARSED_URLS_MAX x (3 x _CACHED_URL_MAX + 1) bytes (the URL, its
    scheme, host and target, and its Host header value, no longer than the URL)."""
    monkeypatch.setattr(_models, "_parsed_urls", {})
    limit = _models._CACHED_URL_MAX
    bound = _models._PARSED_URLS_MAX * (3 * limit + 1)
    fullest = 0
    for index in range(_models._PARSED_URLS_MAX + 100):
        for length in (limit, limit + 1):
            prefix = f"http://[::1]:8080/{index}/"
            url = prefix + "a" * (length - len(prefix))
            request = _models.build_request("GET", url, None, None, None)
            assert request.url.target.startswith(b"/%d/" % index)
        assert len(_models._parsed_urls) <= _models._PARSED_URLS_MAX
        if len(_models._parsed_urls) >= _models._PARSED_URLS_MAX - 2:  # at its fullest
            assert _stored_bytes(_models._parsed_urls) <= bound
            fullest += 1
    assert fullest  # (the byte bound was checked with the cache at its fullest)
    assert all(len(url) <= limit for url in _models._parsed_urls)
    assert all(len(parts[4]) <= len(url) for url, parts in _models._parsed_urls.items())


def test_name_cache_never_stores_over_long_or_over_many(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names at and over CACHED_NAME_MAX, more of them than NAMES_MAX: the cache stops at
    NAMES_MAX x 2 x CACHED_NAME_MAX bytes (a name and its lower-case copy)."""
    monkeypatch.setattr(_headers, "_names", {})
    limit = _headers.CACHED_NAME_MAX
    for index in range(_headers.NAMES_MAX + 100):
        for length in (limit, limit + 1):
            prefix = b"X-%d-" % index
            name = prefix + b"N" * (length - len(prefix))
            assert _headers.lower_name(name) == name.lower()
    assert len(_headers._names) == _headers.NAMES_MAX
    assert _stored_bytes(_headers._names) <= _headers.NAMES_MAX * 2 * limit


# Characters whose HPACK Huffman code is 5 bits, the shortest: the longest decoding a
# coded string of a given size can have.
_FIVE_BIT = b"012aceiost"


def _five_bit_value(index: int, length: int) -> bytes:
    digits = b"".join(_FIVE_BIT[int(d) : int(d) + 1] for d in f"{index:06d}")
    return digits + b"a" * (length - len(digits))


def test_huffman_cache_stays_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct worst-case strings than the table holds (each 128 coded bytes that
    decode to 204, the most Huffman allows), and some just over the cached size: the table
    never holds more than _HUFFMAN_CACHE_SIZE x (128 + 204) bytes."""
    hpack = pytest.importorskip("hpack")
    from httptransport import _hpack

    monkeypatch.setattr(_hpack, "_huffman", {})
    coded_max = _hpack._CACHED_CODED_MAX
    plain_max = coded_max * 8 // 5
    bound = _hpack._HUFFMAN_CACHE_SIZE * (coded_max + plain_max)
    encoder = hpack.Encoder()
    encoder.header_table_size = 0  # every field a literal: nothing from the dynamic table
    decoder = _hpack.CachingDecoder()
    decoder.max_header_list_size = 1 << 30
    per_block = 100
    total = _hpack._HUFFMAN_CACHE_SIZE + 2 * per_block
    for start in range(0, total, per_block):
        fields = [(b"x", _five_bit_value(i, plain_max)) for i in range(start, start + per_block)]
        # 8 more 5-bit characters make the coded string 5 bytes longer than the limit.
        fields.append((b"y", _five_bit_value(start, plain_max + 8)))
        assert decoder.decode(encoder.encode(fields, huffman=True), raw=True) == fields
        assert _stored_bytes(_hpack._huffman) <= bound
        assert len(_hpack._huffman) <= _hpack._HUFFMAN_CACHE_SIZE
    assert max(len(coded) for coded in _hpack._huffman) == coded_max
    assert max(len(plain) for plain in _hpack._huffman.values()) == plain_max


def test_header_block_cache_stays_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct static-only blocks than the table holds, at the largest size it keeps,
    and blocks just over each limit: it never holds more than _BLOCKS_MAX blocks, none
    longer than _CACHED_BLOCK_MAX nor decoding to more than _CACHED_INFLATED_MAX."""
    pytest.importorskip("hpack")
    from httptransport import _hpack

    monkeypatch.setattr(_hpack, "_blocks", {})
    size_max = _hpack._CACHED_BLOCK_MAX
    decoder = _hpack.CachingDecoder()

    def block(index: int, length: int, fields: int = 1) -> bytes:
        # Literal fields without indexing, literal names, plain values: 0x00, name
        # length, name, value length, value (lengths of up to 126 fit in one byte).
        value = b"%06d" % index
        name = b"n" * (length // fields - 3 - len(value))
        field = bytes([0, len(name)]) + name + bytes([len(value)]) + value
        return field * fields

    for index in range(_hpack._BLOCKS_MAX + 50):
        assert len(block(index, size_max, 4)) == size_max
        assert decoder.decode(block(index, size_max, 4), raw=True)
        decoder.decode(block(index, size_max + 4, 4), raw=True)  # too long to keep
        assert len(_hpack._blocks) <= _hpack._BLOCKS_MAX
    assert max(len(key) for key in _hpack._blocks) == size_max
    # Small in bytes, large as a header list: not kept either.
    many = bytes([0x80 | 8]) * 120  # 120 x ":status: 200": 5,040 bytes as a header list
    decoder.decode(many, raw=True)
    assert many not in _hpack._blocks
    inflated = [entry[0] for entry in _hpack._blocks.values()]
    assert max(inflated) <= _hpack._CACHED_INFLATED_MAX
    bound = _hpack._BLOCKS_MAX * (size_max + _hpack._CACHED_INFLATED_MAX)
    assert _stored_bytes(_hpack._blocks) <= bound


_ENDLESS_HEAD = [b"HTTP/1.1 200 OK\r\n"] + [b"X-A: " + b"a" * 65_000 + b"\r\n"] * 20


def test_a_response_head_without_end_is_refused_within_its_bound() -> None:
    """A head that never ends is refused once the buffer passes MAX_HEAD_SIZE, having
    read no more than MAX_HEAD_SIZE + READ_NUM_BYTES."""
    netbackend_mock = pytest.importorskip("netbackend_mock")
    from httptransport import Origin, RemoteProtocolError
    from httptransport._sync import http11

    script = list(_ENDLESS_HEAD)
    stream = netbackend_mock.MockStream(script)
    conn = http11.HTTP11Connection(Origin(b"http", b"example.com", 80), stream)
    with pytest.raises(RemoteProtocolError, match="Receive buffer too long"):
        conn.request("GET", "http://example.com/")
    read = sum(map(len, _ENDLESS_HEAD)) - sum(map(len, script))
    limit = http11.MAX_HEAD_SIZE
    assert limit < read <= limit + http11.HTTP11Connection.READ_NUM_BYTES
    assert conn.is_closed()


def test_a_connect_reply_without_end_is_refused_within_its_bound() -> None:
    """A proxy's CONNECT reply that never ends is refused once it passes
    _MAX_REPLY_HEAD, having read no more than _MAX_REPLY_HEAD + _READ_NUM_BYTES."""
    netbackend_mock = pytest.importorskip("netbackend_mock")
    from httptransport import ProxyError
    from httptransport._sync import http_tunnel

    script = list(_ENDLESS_HEAD)
    stream = netbackend_mock.MockStream(script)
    with pytest.raises(ProxyError, match="oversized head"):
        http_tunnel.HTTPTunnelBackend._read_head(stream, None)
    read = sum(map(len, _ENDLESS_HEAD)) - sum(map(len, script))
    limit = http_tunnel._MAX_REPLY_HEAD
    assert limit < read <= limit + http_tunnel._READ_NUM_BYTES


def test_head_cache_stays_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """More distinct heads than the cache holds, at and over the cached length: the cache
    never holds more than _HEADS_MAX x 2 x _HEAD_CACHED_MAX bytes, and no head over
    _HEAD_CACHED_MAX."""
    monkeypatch.setattr(_h1_head, "_heads", {})
    monkeypatch.setattr(_h1_head, "_lines", {})
    limit = _h1_head._HEAD_CACHED_MAX
    bound = _h1_head._HEADS_MAX * 2 * limit
    fullest = 0
    for index in range(_h1_head._HEADS_MAX + 20):
        for length in (limit, limit + 1):
            prefix = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-%d: " % index
            head = prefix + b"v" * (length - len(prefix))
            parsed = _h1_head.parse_head(head, b"GET")
            assert parsed is not None
            assert parsed[2][1] == (b"X-%d" % index, head[len(prefix) :])
        assert len(_h1_head._heads) <= _h1_head._HEADS_MAX
        if len(_h1_head._heads) >= _h1_head._HEADS_MAX - 2:  # at its fullest
            assert _stored_bytes(_h1_head._heads) <= bound
            fullest += 1
    assert fullest  # (the byte bound was checked with the cache at its fullest)
    assert all(len(head) <= limit for head in _h1_head._heads)


def test_encoded_block_cache_stays_within_its_byte_bound() -> None:
    """Many distinct request header lists around the largest block kept, sent through one
    encoder whose table never changes (size 0): it never keeps more than _ENCODED_MAX
    blocks, none longer than _ENCODED_BLOCK_MAX, so never more than _ENCODED_MAX x
    (_ENCODED_BLOCK_MAX + _ENCODED_FIELDS_MAX) bytes."""
    pytest.importorskip("hpack")
    from httptransport import _hpack

    encoder = _hpack.CachingEncoder()
    encoder.header_table_size = 0
    encoder.encode([(b"x", b"1")])  # (the size update goes out once)
    block_max = _hpack._ENCODED_BLOCK_MAX
    bound = _hpack._ENCODED_MAX * (block_max + _hpack._ENCODED_FIELDS_MAX)
    kept = 0
    for index in range(4 * _hpack._ENCODED_MAX):
        for length in (block_max - 20, block_max, block_max + 20):
            fields = [(b"x-%d" % index, b"v" * length)]
            block = encoder.encode(fields, huffman=False)
            kept += encoder._encoded.get((False, *fields[0])) is block
            assert _stored_bytes(encoder._encoded) <= bound
            assert len(encoder._encoded) <= _hpack._ENCODED_MAX
            assert max(map(len, encoder._encoded.values()), default=0) <= block_max
    assert kept  # (blocks near the limit are kept)


def test_closed_stream_records_stay_within_their_bound() -> None:
    """More requests on one HTTP/2 connection than CLOSED_STREAMS_KEPT, each answered in
    full by an in-memory h2 server: the client keeps no more closed-stream records than
    that (h2 alone keeps 65,536)."""
    pytest.importorskip("h2")
    import h2.config
    import h2.connection

    from httptransport._h2_adapter import CLOSED_STREAMS_KEPT, new_client_connection

    client = new_client_connection()
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    request = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/")]
    for _ in range(CLOSED_STREAMS_KEPT + 500):
        stream_id = client.get_next_available_stream_id()
        client.send_headers(stream_id, request, end_stream=True)
        server.receive_data(client.data_to_send())
        server.send_headers(stream_id, [(b":status", b"200")], end_stream=True)
        client.receive_data(server.data_to_send())
    assert client.open_outbound_streams == 0
    assert 0 < len(client._closed_streams) <= CLOSED_STREAMS_KEPT
