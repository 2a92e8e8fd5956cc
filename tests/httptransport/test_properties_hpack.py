"""Property-based tests of our HPACK decoder (:mod:`httptransport._hpack`).

* Arbitrary bytes: a block decodes or raises one of hpack's exceptions (which h2 turns
  into a ProtocolError), in bytes mode and in text mode; never an ``IndexError``,
  ``UnicodeDecodeError`` or the like.
* Against hpack's own decoder, over sequences of blocks sharing one dynamic table
  (blocks from hpack's encoder, the same with defects, random bytes): whenever the
  reference decodes a block we decode the same fields, never-indexed marks and table;
  whenever it refuses one we refuse it too. The one place we are stricter by design is
  an integer of more than ``_MAX_INTEGER_BYTES`` continuation bytes.
"""

from __future__ import annotations

import os
import typing

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

hpack = pytest.importorskip("hpack")
pytest.importorskip("h2")

from httptransport import _hpack  # noqa: E402
from httptransport._hpack import CachingDecoder  # noqa: E402


def examples(count: int) -> int:
    """``count`` examples in the default matrix cell, a tenth elsewhere (see
    ``tests/conftest.py``: the other cells run the same code on other versions)."""
    if os.environ.get("NETBACKEND_HEAVY_TESTS", "1") == "1":
        return count
    return max(10, count // 10)


PROPERTY = settings(
    max_examples=examples(400),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_NAMES = [b":status", b"content-type", b"server", b"x-custom", b"set-cookie", b"date"]


@st.composite
def encoded_block(draw: st.DrawFn, encoder: typing.Any) -> bytes:
    """A block from hpack's encoder (which keeps its table in step with the decoders')."""
    if draw(st.integers(0, 9)) == 0:
        encoder.header_table_size = draw(st.sampled_from([0, 64, 256, 4096]))
    fields: list[typing.Any] = []
    field = st.tuples(st.sampled_from(_NAMES), st.binary(max_size=40), st.booleans())
    for name, value, never in draw(st.lists(field, max_size=6)):
        fields.append(hpack.NeverIndexedHeaderTuple(name, value) if never else (name, value))
    return typing.cast(bytes, encoder.encode(fields, huffman=draw(st.booleans())))


@st.composite
def damaged(draw: st.DrawFn, block: bytes) -> bytes:
    """``block`` with a byte flipped, cut short, or bytes inserted."""
    if not block:
        return draw(st.binary(min_size=1, max_size=8))
    at = draw(st.integers(0, len(block) - 1))
    kind = draw(st.sampled_from(["flip", "cut", "insert"]))
    if kind == "flip":
        return block[:at] + bytes([block[at] ^ draw(st.integers(1, 255))]) + block[at + 1 :]
    if kind == "cut":
        return block[:at]
    return block[:at] + draw(st.binary(min_size=1, max_size=8)) + block[at:]


@st.composite
def block_sequences(draw: st.DrawFn) -> list[bytes]:
    """Blocks one peer sends in turn; some damaged, some random."""
    encoder = hpack.Encoder()
    blocks = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["encoded", "encoded", "encoded", "damaged", "random"]))
        if kind == "random":
            blocks.append(draw(st.binary(max_size=30)))
            continue
        block = draw(encoded_block(encoder))
        blocks.append(draw(damaged(block)) if kind == "damaged" else block)
    return blocks


def _decode(decoder: typing.Any, block: bytes, raw: bool) -> tuple[str, typing.Any]:
    """``("ok", fields)`` or ``("error", exception)`` (only hpack's errors are caught)."""
    try:
        fields = decoder.decode(block, raw=raw)
    except hpack.HPACKError as exc:
        return "error", exc
    return "ok", [(tuple(f), isinstance(f, hpack.NeverIndexedHeaderTuple)) for f in fields]


@PROPERTY
@given(st.binary(max_size=64), st.booleans())
@example(b"\x00\x01\xff\x00", False)  # a name that is not UTF-8, in text mode
@example(b"\x80", True)  # index 0
@example(b"\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", True)  # an endless integer
def test_any_bytes_decode_or_raise_hpack_errors(block: bytes, raw: bool) -> None:
    """Fields, or one of hpack's exceptions; nothing else, in either mode."""
    outcome, result = _decode(CachingDecoder(), block, raw)
    if outcome == "ok":
        kind = bytes if raw else str
        assert all(isinstance(part, kind) for field, _ in result for part in field)


@settings(PROPERTY, max_examples=examples(250))
@given(block_sequences(), st.booleans())
def test_agrees_with_the_reference_decoder(blocks: list[bytes], raw: bool) -> None:
    """Block after block, the reference's result and table, or an error where it errs.

    After a refused block a connection is over (h2 closes it), so the sequence stops
    at the first error.
    """
    ours, reference = CachingDecoder(), hpack.Decoder()
    for block in blocks:
        expected, theirs = _decode(reference, block, raw)
        got, mine = _decode(ours, block, raw)
        if expected == "ok" and got == "error":
            # Stricter only on purpose: an integer of too many continuation bytes.
            assert "integer too long" in str(mine)
            return
        assert got == expected, (block, mine, theirs)
        if got == "error":
            return
        assert mine == theirs
        assert ours.header_table.dynamic_entries == reference.header_table.dynamic_entries
        assert ours.header_table.maxsize == reference.header_table.maxsize


@settings(PROPERTY, max_examples=examples(100))
@given(block_sequences())
def test_a_refused_block_teaches_the_shared_huffman_table_nothing_wrong(
    blocks: list[bytes],
) -> None:
    """Whatever blocks came before (refused ones included), a fresh decoder of a valid
    sequence gets exactly what the reference gets: the shared cache of Huffman strings
    holds only true decodings."""
    ours = CachingDecoder()
    for block in blocks:
        if _decode(ours, block, True)[0] == "error":
            ours = CachingDecoder()
    encoder = hpack.Encoder()
    fields = [(b"x-%d" % i, block[:30]) for i, block in enumerate(blocks)]
    block = encoder.encode(fields, huffman=True)
    assert _decode(CachingDecoder(), block, True) == _decode(hpack.Decoder(), block, True)


def test_text_mode_refuses_fields_that_are_not_utf8() -> None:
    """Regression (found by the first property): in text mode a name or value that is
    not UTF-8 raised a bare UnicodeDecodeError; it is an hpack error, as in hpack."""
    with pytest.raises(hpack.HPACKDecodingError, match="UTF-8"):
        CachingDecoder().decode(b"\x00\x01\xff\x00")


def _literal_field(kind: int, name: bytes | int, value: bytes, huffman: bool) -> bytes:
    """One field "with incremental indexing" (``kind`` 0x40), "without indexing" (0x00)
    or "never indexed" (0x10), its name a static-table index or a literal (RFC 7541
    section 6.2)."""

    def string(text: bytes) -> bytes:
        coded = hpack.Encoder().huffman_coder.encode(text) if huffman else text
        length = hpack.hpack.encode_integer(len(coded), 7)
        if huffman:
            length[0] |= 0x80
        return bytes(length) + coded

    if isinstance(name, int):
        head = hpack.hpack.encode_integer(name, 6 if kind == 0x40 else 4)
        head[0] |= kind
        return bytes(head) + string(value)
    return bytes([kind]) + string(name) + string(value)


@st.composite
def static_only_blocks(draw: st.DrawFn) -> tuple[bytes, bool]:
    """Blocks such as servers send that use no dynamic table: static-table indexes and
    literals, not indexed or (nginx, which sets the table's size to 0) indexed, with
    names by static index or literal, Huffman-coded or not; sometimes damaged. Each
    comes with whether it is intact."""
    parts = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["indexed", "without", "never", "incremental"]))
        if kind == "indexed":
            parts.append(bytes(hpack.hpack.encode_integer(draw(st.integers(1, 61)), 7)))
            parts[-1] = bytes([parts[-1][0] | 0x80]) + parts[-1][1:]
            continue
        name: bytes | int = draw(st.one_of(st.integers(1, 61), st.sampled_from(_NAMES)))
        value = draw(st.binary(max_size=40))
        code = {"without": 0x00, "never": 0x10, "incremental": 0x40}[kind]
        parts.append(_literal_field(code, name, value, draw(st.booleans())))
    block = b"".join(parts)
    if draw(st.integers(0, 4)) == 0:
        return draw(damaged(block)), False
    return block, True


@settings(PROPERTY, max_examples=examples(300))
@given(
    static_only_blocks(),
    st.booleans(),
    st.sampled_from([65536, 200, 40]),
    st.lists(st.booleans(), min_size=3, max_size=3),
)
def test_a_remembered_block_decodes_as_the_reference_decodes_it(
    block_intact: tuple[bytes, bool], raw: bool, limit: int, zero_tables: list[bool]
) -> None:
    """A block that uses no dynamic table is decoded once, then served from the shared
    table of blocks: every time, by any decoder (its table of size 0 or not), the
    reference's fields, table and error (the decoder's header-list limit included)."""
    block, intact = block_intact
    for zero_table in zero_tables:
        ours, reference = CachingDecoder(), hpack.Decoder()
        ours.max_header_list_size = reference.max_header_list_size = limit
        if zero_table:  # as nginx's first block: the table's size is set to 0
            assert _decode(ours, b"\x20", raw) == _decode(reference, b"\x20", raw)
        expected, theirs = _decode(reference, block, raw)
        got, mine = _decode(ours, block, raw)
        assert got == expected, (block, mine, theirs)
        if got == "ok":
            assert mine == theirs
            assert ours.header_table.dynamic_entries == reference.header_table.dynamic_entries
        elif isinstance(theirs, hpack.OversizedHeaderListError):
            assert isinstance(mine, hpack.OversizedHeaderListError)
        kept = intact and len(block) <= _hpack._CACHED_BLOCK_MAX
        if kept and not isinstance(mine, hpack.OversizedHeaderListError):
            # (Over the header-list limit, it is refused before it is whole.)
            assert block in _hpack._blocks, "an intact static-only block is remembered"
