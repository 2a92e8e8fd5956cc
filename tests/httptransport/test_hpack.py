"""httptransport's HPACK decoder: equal to hpack's own on every block, stricter on none.

The decoder replaces h2's for speed (it remembers Huffman-decoded strings); these tests
hold it to the reference decoder over long stateful sequences of blocks from hpack's
encoder, to the RFC 7541 examples, and to the errors h2 expects on malformed input.
"""

from __future__ import annotations

import random
import typing

import pytest

hpack = pytest.importorskip("hpack")
pytest.importorskip("h2")

from httptransport import _hpack  # noqa: E402
from httptransport._hpack import CachingDecoder  # noqa: E402

_NAMES = [
    b":status",
    b"content-type",
    b"content-length",
    b"date",
    b"server",
    b"etag",
    b"last-modified",
    b"cache-control",
    b"set-cookie",
    b"x-custom-header",
    b"x-trace-id",
    b"authorization",
]


def _random_value(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return b""
    if kind == 1:  # repeated, like server or content-type
        return rng.choice([b"nginx", b"text/html; charset=utf-8", b"200", b"gzip"])
    size = rng.choice([1, 5, 30, 127, 128, 300])
    alphabet = bytes(range(32, 127)) if kind == 2 else bytes(range(256))
    return bytes(rng.choice(alphabet) for _ in range(size))


def _blocks(seed: int, count: int) -> list[tuple[bytes, list[typing.Any]]]:
    """Encode ``count`` random header lists with one encoder (state carries over)."""
    rng = random.Random(seed)
    encoder = hpack.Encoder()
    out = []
    for _ in range(count):
        if rng.random() < 0.1:
            encoder.header_table_size = rng.choice([0, 64, 256, 4096])
        headers = []
        for _ in range(rng.randrange(1, 12)):
            name = rng.choice(_NAMES)
            value = _random_value(rng)
            if rng.random() < 0.15:
                headers.append(hpack.NeverIndexedHeaderTuple(name, value))
            else:
                headers.append((name, value))
        block = encoder.encode(headers, huffman=rng.random() < 0.8)
        out.append((block, headers))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_matches_the_reference_decoder_over_a_stateful_sequence(seed: int) -> None:
    """Same fields, same order, same never-indexed marks, block after block."""
    ours, reference = CachingDecoder(), hpack.Decoder()
    for block, _ in _blocks(seed, 300):
        expected = reference.decode(block, raw=True)
        got = ours.decode(block, raw=True)
        assert [tuple(h) for h in got] == [tuple(h) for h in expected]
        assert [isinstance(h, hpack.NeverIndexedHeaderTuple) for h in got] == [
            isinstance(h, hpack.NeverIndexedHeaderTuple) for h in expected
        ]
        assert ours.header_table.dynamic_entries == reference.header_table.dynamic_entries


def test_rfc7541_c6_responses_with_huffman_and_eviction() -> None:
    """RFC 7541 appendix C.6: three responses, a 256-byte table, entries evicted."""
    decoder = CachingDecoder()
    decoder.header_table_size = 256
    first = bytes.fromhex(
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff"
        "6e919d29ad171863c78f0b97c8e9ae82ae43d3"
    )
    assert decoder.decode(first, raw=True) == [
        (b":status", b"302"),
        (b"cache-control", b"private"),
        (b"date", b"Mon, 21 Oct 2013 20:13:21 GMT"),
        (b"location", b"https://www.example.com"),
    ]
    second = bytes.fromhex("4883640effc1c0bf")
    assert decoder.decode(second, raw=True) == [
        (b":status", b"307"),
        (b"cache-control", b"private"),
        (b"date", b"Mon, 21 Oct 2013 20:13:21 GMT"),
        (b"location", b"https://www.example.com"),
    ]
    third = bytes.fromhex(
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94"
        "e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c0"
        "03ed4ee5b1063d5007"
    )
    assert decoder.decode(third, raw=True) == [
        (b":status", b"200"),
        (b"cache-control", b"private"),
        (b"date", b"Mon, 21 Oct 2013 20:13:22 GMT"),
        (b"location", b"https://www.example.com"),
        (b"content-encoding", b"gzip"),
        (b"set-cookie", b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ]
    # What the RFC says the table holds afterwards (newest first), 215 bytes in all.
    assert list(decoder.header_table.dynamic_entries) == [
        (b"set-cookie", b"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
        (b"content-encoding", b"gzip"),
        (b"date", b"Mon, 21 Oct 2013 20:13:22 GMT"),
    ]


def test_text_mode_decodes_to_str() -> None:
    block = hpack.Encoder().encode(
        [(b"server", b"nginx"), hpack.NeverIndexedHeaderTuple(b"authorization", b"secret")]
    )
    headers = CachingDecoder().decode(block)
    assert headers == [("server", "nginx"), ("authorization", "secret")]
    assert isinstance(headers[1], hpack.NeverIndexedHeaderTuple)


def test_huffman_results_are_remembered_and_the_table_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A repeated coded string is decoded once; the shared table starts over when full."""
    monkeypatch.setattr(_hpack, "_huffman", {})
    monkeypatch.setattr(_hpack, "_HUFFMAN_CACHE_SIZE", 10)
    calls: list[bytes] = []
    real = hpack.huffman_table.decode_huffman

    def counting(coded: bytes) -> bytes:
        calls.append(coded)
        return bytes(real(coded))

    monkeypatch.setattr(_hpack, "decode_huffman", counting)
    encoder = hpack.Encoder()
    encoder.header_table_size = 0  # literals every time, nothing from the dynamic table
    block = encoder.encode([(b"x-a", b"one value"), (b"x-b", b"another value")], huffman=True)
    decoder = CachingDecoder()
    decoder.decode(block, raw=True)
    first = len(calls)
    assert first == 4  # two names, two values
    assert decoder.decode(block, raw=True) == [(b"x-a", b"one value"), (b"x-b", b"another value")]
    assert len(calls) == first
    monkeypatch.setattr(_hpack, "_HUFFMAN_CACHE_SIZE", 3)
    decoder.decode(block, raw=True)
    block = encoder.encode([(b"x-c", b"third value"), (b"x-d", b"fourth value")], huffman=True)
    decoder.decode(block, raw=True)
    assert len(_hpack._huffman) <= 3


@pytest.mark.parametrize(
    ("block", "error", "match"),
    [
        pytest.param(b"\x80", "HPACKDecodingError", "index 0", id="index-zero"),
        pytest.param(b"\xff\x80", "HPACKDecodingError", "truncated integer", id="cut-integer"),
        pytest.param(
            b"\xff" + b"\xff" * 9 + b"\x01", "HPACKDecodingError", "too long", id="long-integer"
        ),
        pytest.param(b"\x00\x85abc", "HPACKDecodingError", "truncated string", id="cut-string"),
        pytest.param(b"\x00", "HPACKDecodingError", "truncated string", id="no-name"),
        pytest.param(b"\xbe", "HPACKDecodingError", "62", id="unknown-index"),
        pytest.param(b"\x3f\xe2\x1f", "InvalidTableSizeError", "exceeds", id="table-too-big"),
        # RFC 7541 section 4.2: a size update only at the start of a block.
        pytest.param(b"\x82\x20", "HPACKDecodingError", "after a header", id="late-size-update"),
    ],
)
def test_malformed_blocks_raise_hpack_errors(block: bytes, error: str, match: str) -> None:
    """Each defect raises the hpack exception h2 turns into a ProtocolError."""
    with pytest.raises(getattr(hpack.exceptions, error), match=match):
        CachingDecoder().decode(block, raw=True)


def test_oversized_header_list_is_refused() -> None:
    decoder = CachingDecoder()
    decoder.max_header_list_size = 100
    block = hpack.Encoder().encode([(b"x-big", b"v" * 100)])
    with pytest.raises(hpack.OversizedHeaderListError):
        decoder.decode(block, raw=True)


def test_a_table_grown_past_the_allowed_size_is_refused() -> None:
    """A size update may not take the table past ``max_allowed_table_size``."""
    decoder = CachingDecoder()
    decoder.max_allowed_table_size = 100
    with pytest.raises(hpack.exceptions.InvalidTableSizeError):
        decoder.decode(b"\x3f\x61", raw=True)  # size update to 128


@pytest.mark.anyio
async def test_a_bad_block_from_the_server_is_a_remote_protocol_error() -> None:
    """Through a real connection our decoder is the one in use: a good block decodes, a
    malformed one fails the request."""
    hyperframe = pytest.importorskip("hyperframe.frame")
    netbackend_mock = pytest.importorskip("netbackend_mock")
    from httptransport import AsyncConnectionPool, RemoteProtocolError

    def frames(block: bytes) -> list[bytes]:
        return [
            hyperframe.SettingsFrame().serialize(),
            hyperframe.HeadersFrame(stream_id=1, data=block, flags=["END_HEADERS"]).serialize(),
            hyperframe.DataFrame(stream_id=1, data=b"ok", flags=["END_STREAM"]).serialize(),
        ]

    good = hpack.Encoder().encode([(b":status", b"200"), (b"server", b"nginx")], huffman=True)
    backend = netbackend_mock.AsyncMockBackend(frames(good), http2=True)
    async with AsyncConnectionPool(network_backend=backend, http2=True) as pool:
        response = await pool.request("GET", "https://example.com/")
        assert response.headers == [(b"server", b"nginx")]
        assert response.content == b"ok"
        connection = pool.connections[0]._connection  # type: ignore[attr-defined]
        assert type(connection._h2_state.decoder) is CachingDecoder

    backend = netbackend_mock.AsyncMockBackend(frames(b"\x88\x80"), http2=True)
    async with AsyncConnectionPool(network_backend=backend, http2=True) as pool:
        with pytest.raises(RemoteProtocolError, match="header index 0 is not allowed"):
            await pool.request("GET", "https://example.com/")
        assert pool.connections == []


def test_the_huffman_table_keeps_only_short_strings_of_accepted_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Long coded strings are never remembered (the table stays bounded in bytes), nor
    strings of a block refused as over the header-list limit."""
    monkeypatch.setattr(_hpack, "_huffman", {})
    encoder = hpack.Encoder()
    encoder.header_table_size = 0
    long_value = b"v" * 60_000
    decoder = CachingDecoder()
    decoder.decode(encoder.encode([(b"x-long", long_value)], huffman=True), raw=True)
    assert all(len(coded) <= _hpack._CACHED_CODED_MAX for coded in _hpack._huffman)
    assert long_value not in _hpack._huffman.values()
    monkeypatch.setattr(_hpack, "_huffman", {})
    decoder.max_header_list_size = 100
    block = encoder.encode([(b"x-a", b"short"), (b"x-big", b"w" * 200)], huffman=True)
    with pytest.raises(hpack.OversizedHeaderListError):
        decoder.decode(block, raw=True)
    assert _hpack._huffman == {}
