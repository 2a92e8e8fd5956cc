"""Property-based tests of our caching HPACK encoder (:class:`httptransport._hpack.CachingEncoder`).

Against hpack's own encoder, over sequences of header lists sent through one encoder
(lists drawn from a small pool so that the same request comes back, with table size
changes in between as a peer's SETTINGS make them): both encoders' dynamic tables are
the same after every block, hpack's decoder fed our blocks keeps a table equal to our
encoder's, and every block is the same bytes as hpack's until table size changes are
signalled differently (we send the smallest and the last size set between two blocks,
as RFC 7541 section 4.2 asks; hpack sends every change, and loses a pending one when
the same size is set again).
"""

from __future__ import annotations

import os
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

hpack = pytest.importorskip("hpack")
pytest.importorskip("h2")

from httptransport import _hpack  # noqa: E402
from httptransport._hpack import CachingEncoder  # noqa: E402


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
    suppress_health_check=[HealthCheck.too_slow],
)

_NAMES = [b":method", b":path", b":authority", b"user-agent", b"accept", b"x-custom", b"cookie"]
_VALUES = [b"GET", b"/", b"/a", b"example.com", b"x" * 40, b"", b"gzip", b"\xff\x00 v"]


@st.composite
def header_list(draw: st.DrawFn) -> list[typing.Any]:
    fields: list[typing.Any] = []
    for name, value, kind in draw(
        st.lists(
            st.tuples(st.sampled_from(_NAMES), st.sampled_from(_VALUES), st.integers(0, 5)),
            max_size=7,
        )
    ):
        if kind == 0:
            fields.append(hpack.NeverIndexedHeaderTuple(name, value))
        elif kind == 1:
            fields.append(hpack.HeaderTuple(name, value))
        elif kind == 2:
            fields.append((name, value, True))  # hpack's 3-tuple form: not looked up
        else:
            fields.append((name, value))
    return fields


# One step: encode a list from the pool (with or without Huffman), or resize the table.
_step = st.one_of(
    st.tuples(st.just("encode"), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("resize"), st.sampled_from([0, 48, 100, 256, 4096]), st.just(False)),
)


def _table(encoder: typing.Any) -> tuple[typing.Any, ...]:
    table = encoder.header_table
    return (table.maxsize, table._current_size, tuple(table.dynamic_entries))


@settings(PROPERTY)
@given(st.lists(header_list(), min_size=1, max_size=5), st.lists(_step, max_size=30))
def test_blocks_and_tables_match_hpacks_encoder(
    pool: list[list[typing.Any]], steps: list[tuple[str, int, bool]]
) -> None:
    ours, reference = CachingEncoder(), hpack.Encoder()
    ours_decoder, reference_decoder = hpack.Decoder(), hpack.Decoder()
    # The sizes set since the last block, and whether hpack's encoder still says the same
    # bytes as ours: it does until a run of size changes it signals differently (it
    # lists every change, we the smallest and the last; it forgets a pending change
    # when the same size is set again: test_table_size_changes_between_blocks_...).
    changes: list[int] = []
    alike = True
    for action, value, huffman in steps:
        if action == "resize":
            if value == ours.header_table_size and changes:
                alike = False
            elif value != ours.header_table_size:
                changes.append(value)
            ours.header_table_size = value
            reference.header_table_size = value
            continue
        if len(changes) > 2 or (len(changes) == 2 and changes[0] > changes[1]):
            alike = False
        changes = []
        fields = pool[value % len(pool)]
        block = ours.encode(list(fields), huffman=huffman)
        expected = reference.encode(list(fields), huffman=huffman)
        assert _table(ours) == _table(reference)
        decoded = ours_decoder.decode(block, raw=True)
        assert list(ours_decoder.header_table.dynamic_entries) == list(
            ours.header_table.dynamic_entries
        )
        assert ours_decoder.header_table.maxsize == ours.header_table.maxsize
        if alike:
            assert block == expected
            assert decoded == reference_decoder.decode(expected, raw=True)


def test_a_request_sent_again_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, reference = CachingEncoder(), hpack.Encoder()
    fields = [(b":method", b"GET"), (b"x-token", b"s")]
    # The never-indexed twin of the same fields must not be served the plain block (nor
    # the other way round): a never-indexed literal leaves the table as it is.
    never = [fields[0], hpack.NeverIndexedHeaderTuple(b"x-token", b"s")]
    blocks = []
    for sent in (never, never, fields, fields, fields, never):
        block = encoder.encode(list(sent))
        assert block == reference.encode(list(sent))
        blocks.append(block)
    # Once indexed, the field is sent by its index either way (as hpack does).
    assert blocks[0] == blocks[1] != blocks[2] != blocks[3] == blocks[4] == blocks[5]
    assert len(encoder._encoded) == 2  # the table is now stable: both lists kept
    assert _table(encoder) == _table(reference)
    # Sent again, both come from the cache: hpack's encoder is not called.
    monkeypatch.setattr(hpack.Encoder, "encode", _not_called)
    assert encoder.encode(list(fields)) == blocks[4]
    assert encoder.encode(list(never)) == blocks[5]


def _not_called(*args: object, **kwargs: object) -> typing.NoReturn:
    raise AssertionError("encoded again instead of served from the cache")


def test_the_cache_is_bounded() -> None:
    encoder = CachingEncoder()
    big = [(b"x-big", b"v" * (_hpack._ENCODED_FIELDS_MAX + 1))]
    encoder.header_table_size = 0  # nothing is ever indexed: every block is cacheable
    encoder.encode([(b"x-a", b"1")])  # (the pending size update goes out first)
    encoder.encode(big)
    assert not encoder._encoded  # too large to keep
    for n in range(3 * _hpack._ENCODED_MAX):
        encoder.encode([(b"x-n", str(n).encode())])
        assert len(encoder._encoded) <= _hpack._ENCODED_MAX
        # (each kept; the cache starts over when full)
        assert len(encoder._encoded) == n % _hpack._ENCODED_MAX + 1


@pytest.mark.parametrize(
    "sizes",
    [
        [0, 48, 48],  # the same size set twice while a change is pending
        [0, 4096],  # down and back up: the smallest size must be signalled too
        [4096, 0, 100, 200],  # several changes: the smallest and the last are enough
        [100, 100],
    ],
)
def test_table_size_changes_between_blocks_keep_the_peer_in_step(sizes: list[int]) -> None:
    """Every table size the peer's SETTINGS set between two blocks reaches the decoder
    (RFC 7541 section 4.2: the smallest and the last), however often a size is set
    again: hpack's own encoder forgets a pending change when the same size is set twice,
    and the peer's table then no longer matches ours (its next lookup fails)."""
    encoder, decoder = CachingEncoder(), hpack.Decoder()
    request = [(b":method", b"GET"), (b"x-custom", b"v" * 10), (b"accept", b"gzip")]
    for first in (True, False):
        for size in sizes if not first else [4096]:
            encoder.header_table_size = size
        for _ in range(3):
            block = encoder.encode(list(request))
            assert decoder.decode(block, raw=True) == request
            assert decoder.header_table.maxsize == encoder.header_table.maxsize
            assert list(decoder.header_table.dynamic_entries) == list(
                encoder.header_table.dynamic_entries
            )
    updates = []
    encoder = CachingEncoder()
    for size in sizes:
        encoder.header_table_size = size
    block = encoder.encode([(b":method", b"GET")])
    while block[0] & 0xE0 == 0x20:  # a dynamic table size update (5-bit prefix)
        value, used = hpack.hpack.decode_integer(block, 5)
        updates.append(value)
        block = block[used:]
    smallest = min(sizes)
    assert updates == ([smallest, sizes[-1]] if smallest < sizes[-1] else [sizes[-1]])
