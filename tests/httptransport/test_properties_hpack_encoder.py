"""Property-based tests of our caching HPACK encoder (:class:`httptransport._hpack.CachingEncoder`).

Against hpack's own encoder, over sequences of header lists sent through one encoder
(lists drawn from a small pool so that the same request comes back, with table size
changes in between as a peer's SETTINGS make them): every block is the same bytes as
hpack's, both encoders' dynamic tables are the same after every block, and hpack's
decoder, fed both streams of blocks, decodes the same fields into the same table.
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
    for action, value, huffman in steps:
        if action == "resize":
            ours.header_table_size = value
            reference.header_table_size = value
            continue
        fields = pool[value % len(pool)]
        block = ours.encode(list(fields), huffman=huffman)
        assert block == reference.encode(list(fields), huffman=huffman)
        assert _table(ours) == _table(reference)
        assert ours_decoder.decode(block, raw=True) == reference_decoder.decode(block, raw=True)
        assert list(ours_decoder.header_table.dynamic_entries) == list(
            reference_decoder.header_table.dynamic_entries
        )


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
