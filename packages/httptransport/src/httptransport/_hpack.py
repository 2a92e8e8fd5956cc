"""An HPACK decoder for h2 that remembers the strings it has Huffman-decoded.

Servers send the same header values over and over (``server``, ``content-type``, the
``date`` of the current second, ``etag``, ``last-modified``), almost always
Huffman-coded, and decoding Huffman bit by bit in Python was the largest single cost of
an HTTP/2 response. Huffman decoding is a pure function of the coded bytes, so its
results are kept in a bounded table, shared by all connections.

Many servers never use the dynamic table for a response: their header blocks hold
static-table indexes and literals "without indexing" only, or, like nginx, they set the
table's size to 0 once, after which a literal "with incremental indexing" adds nothing
(RFC 7541 section 4.4: an entry larger than the table empties it). Either way a block's
decoding is a pure function of its bytes (and, in the second case, of the table being
of size 0). Such blocks are kept whole in a second bounded table; one that reads the
dynamic table or changes its size is decoded every time, and so is one that indexes
fields when the decoder's table is not of size 0.

The rest is RFC 7541 section 6, kept short: field representations, integers with their
prefixes, string literals, dynamic-table size updates. The tables themselves (static and
dynamic, eviction) are hpack's ``HeaderTable``; errors are hpack's exception classes, so
h2 reports a bad block exactly as it does with its own decoder (a ``ProtocolError``).
"""

from __future__ import annotations

import typing

from hpack import Decoder as _BaseDecoder
from hpack import Encoder as _BaseEncoder
from hpack.exceptions import HPACKDecodingError, InvalidTableSizeError, OversizedHeaderListError
from hpack.huffman_table import decode_huffman
from hpack.struct import HeaderTuple, NeverIndexedHeaderTuple
from hpack.table import HeaderTable

__all__ = ("CachingDecoder", "CachingEncoder")

# The shared table of Huffman-decoded strings: at most _HUFFMAN_CACHE_SIZE entries
# (then it starts over), each a coded string of at most _CACHED_CODED_MAX bytes and its
# decoding (at most 8/5 as long: Huffman codes are at least 5 bits), so it never holds
# more than about 4096 * (128 + 205) bytes of strings, 1.4 MB, whatever a server sends.
# Strings are learned only from header blocks that decoded completely: a block that is
# malformed or over the header-list limit adds nothing.
_HUFFMAN_CACHE_SIZE = 4096
_CACHED_CODED_MAX = 128
_huffman: dict[bytes, bytes] = {}

# The shared table of whole header blocks that touch no dynamic table: at most
# _BLOCKS_MAX blocks of at most _CACHED_BLOCK_MAX coded bytes, each decoding to at most
# _CACHED_INFLATED_MAX bytes counted as RFC 7541 counts a header list (name + value + 32
# per field, so the strings themselves are fewer bytes), about 256 * (512 + 4096) bytes,
# 1.2 MB. Each entry is that RFC 7541 size, the block's fields, and whether the block
# indexes fields (then it may be taken from the table only by a decoder whose dynamic
# table has size 0, where indexing adds nothing).
_BLOCKS_MAX = 256
_CACHED_BLOCK_MAX = 512
_CACHED_INFLATED_MAX = 4096
_blocks: dict[bytes, tuple[int, tuple[typing.Any, ...], bool]] = {}

# Each connection's encoder keeps at most _ENCODED_MAX header blocks, each of at most
# _ENCODED_BLOCK_MAX bytes encoded from fields of at most _ENCODED_FIELDS_MAX bytes of
# names and values (its key): at most 16 * (1024 + 2048) bytes, 48 KiB, per connection.
_ENCODED_MAX = 16
_ENCODED_BLOCK_MAX = 1024
_ENCODED_FIELDS_MAX = 2048

# The static table's last index (RFC 7541 appendix A): indexes above it are dynamic.
_STATIC_ENTRIES = 61

# Integers longer than this many continuation bytes are refused (no sane header needs
# more than 4; this bounds the work a hostile block can cause).
_MAX_INTEGER_BYTES = 8


def _huffman_decode(coded: bytes, learned: list[tuple[bytes, bytes]]) -> bytes:
    plain = _huffman.get(coded)
    if plain is None:
        plain = decode_huffman(coded)
        if len(coded) <= _CACHED_CODED_MAX:
            learned.append((coded, plain))
    return plain


def _remember(learned: list[tuple[bytes, bytes]]) -> None:
    """Add the strings a block that decoded completely taught us to the shared table."""
    for coded, plain in learned:
        if len(_huffman) >= _HUFFMAN_CACHE_SIZE:
            _huffman.clear()
        _huffman[coded] = plain


def _integer(data: bytes, pos: int, prefix_mask: int) -> tuple[int, int]:
    """Decode the integer whose prefix is in ``data[pos]``; return it and the next position."""
    value = data[pos] & prefix_mask
    pos += 1
    if value < prefix_mask:
        return value, pos
    shift = 0
    for _ in range(_MAX_INTEGER_BYTES):
        try:
            byte = data[pos]
        except IndexError:
            raise HPACKDecodingError("truncated integer in header block") from None
        pos += 1
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise HPACKDecodingError("integer too long in header block")


def _string(data: bytes, pos: int, learned: list[tuple[bytes, bytes]]) -> tuple[bytes, int]:
    """Decode the string literal at ``pos``; return it and the next position."""
    if pos >= len(data):
        raise HPACKDecodingError("truncated string in header block")
    huffman = data[pos] & 0x80
    length, pos = _integer(data, pos, 0x7F)
    end = pos + length
    if end > len(data):
        raise HPACKDecodingError("truncated string in header block")
    raw = data[pos:end]
    return (_huffman_decode(raw, learned) if huffman else raw), end


def _literal(
    data: bytes,
    pos: int,
    prefix_mask: int,
    get: typing.Callable[[int], tuple[bytes, bytes]],
    learned: list[tuple[bytes, bytes]],
) -> tuple[bytes, bytes, int, int]:
    """Decode a literal field at ``pos``: its name (by table index, or a literal when the
    index is 0) and its value; return both, the name's index and the next position."""
    index, pos = _integer(data, pos, prefix_mask)
    if index:
        name = get(index)[0]
    else:
        name, pos = _string(data, pos, learned)
    value, pos = _string(data, pos, learned)
    return name, value, index, pos


class CachingDecoder(_BaseDecoder):  # type: ignore[misc,unused-ignore]
    """``hpack.Decoder`` with a faster ``decode``; h2 uses it like its own."""

    def decode(self, data: bytes, raw: bool = False) -> list[typing.Any]:
        """Decode one header block into ``(name, value)`` pairs, in order.

        Fields sent "never indexed" come back as ``hpack.NeverIndexedHeaderTuple``.

        Raises:
            HPACKDecodingError: The block is malformed (h2 turns it into a ProtocolError),
                or, without ``raw``, a name or value is not UTF-8.
            OversizedHeaderListError: It expands past ``max_header_list_size``.
            InvalidTableSizeError: A size update is above what we allowed.
        """
        data = bytes(data)
        limit = self.max_header_list_size
        cached = _blocks.get(data)
        if cached is None or (cached[2] and self.header_table.maxsize):
            headers = self._decode_fields(data, limit)
        else:
            inflated, fields, _ = cached
            if inflated > limit:
                raise OversizedHeaderListError(
                    f"header list exceeds the {limit}-byte limit we advertised"
                )
            if self.header_table.maxsize > self.max_allowed_table_size:
                raise InvalidTableSizeError("the header table is larger than we allowed")
            headers = list(fields)
        if raw:
            return headers
        try:
            return [
                NeverIndexedHeaderTuple(h[0].decode(), h[1].decode())
                if isinstance(h, NeverIndexedHeaderTuple)
                else (h[0].decode(), h[1].decode())
                for h in headers
            ]
        except UnicodeDecodeError as exc:
            # As hpack's decoder: an hpack error, which h2 reports as a ProtocolError.
            raise HPACKDecodingError("Unable to decode headers as UTF-8") from exc

    def _decode_fields(self, data: bytes, limit: int) -> list[typing.Any]:
        """Decode ``data`` field by field (RFC 7541 section 6), as bytes, and keep the
        result in the shared table if the block touched no dynamic table."""
        table = self.header_table
        get = table.get_by_index
        headers: list[typing.Any] = []
        learned: list[tuple[bytes, bytes]] = []
        inflated = 0
        # Whether the block reads the dynamic table or changes its size (then it is never
        # cached); whether it indexes fields (then only a decoder whose table has size 0
        # may take it from the cache).
        stateful = False
        indexes = False
        pos = 0
        end = len(data)
        while pos < end:
            first = data[pos]
            if first & 0x80:  # indexed field
                index, pos = _integer(data, pos, 0x7F)
                if index == 0:
                    raise HPACKDecodingError("header index 0 is not allowed")
                if index > _STATIC_ENTRIES:
                    stateful = True
                name, value = get(index)
                header: typing.Any = (name, value)
            elif first & 0x40:  # literal with incremental indexing
                indexes = True
                name, value, index, pos = _literal(data, pos, 0x3F, get, learned)
                if index > _STATIC_ENTRIES:
                    stateful = True
                table.add(name, value)
                header = (name, value)
            elif first & 0x20:  # dynamic table size update
                if headers:
                    # Only at the start of a header block (RFC 7541 section 4.2).
                    raise HPACKDecodingError("dynamic table size update after a header field")
                stateful = True
                size, pos = _integer(data, pos, 0x1F)
                if size > self.max_allowed_table_size:
                    raise InvalidTableSizeError(
                        f"table size update to {size} exceeds {self.max_allowed_table_size}"
                    )
                table.maxsize = size
                continue
            else:  # literal without indexing (0000) or never indexed (0001)
                name, value, index, pos = _literal(data, pos, 0x0F, get, learned)
                if index > _STATIC_ENTRIES:
                    stateful = True  # (its name came from the dynamic table)
                # (0001: the peer asked that this field never be indexed anywhere.)
                header = NeverIndexedHeaderTuple(name, value) if first & 0x10 else (name, value)
            inflated += len(name) + len(value) + 32
            if inflated > limit:
                raise OversizedHeaderListError(
                    f"header list exceeds the {limit}-byte limit we advertised"
                )
            headers.append(header)
        if table.maxsize > self.max_allowed_table_size:
            raise InvalidTableSizeError("the header table is larger than we allowed")
        if learned:
            _remember(learned)
        if not stateful and len(data) <= _CACHED_BLOCK_MAX and inflated <= _CACHED_INFLATED_MAX:
            if len(_blocks) >= _BLOCKS_MAX:
                _blocks.clear()
            _blocks[data] = (inflated, tuple(headers), indexes)
        return headers


class _VersionedTable(HeaderTable):  # type: ignore[misc,unused-ignore]
    """hpack's ``HeaderTable`` counting its changes: ``version`` grows whenever an entry
    is added (which may evict, or empty the table) or its size is set; adding to a table
    of size 0, which stays empty, changes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.version = 0

    def add(self, name: bytes, value: bytes) -> None:
        if self._maxsize or self.dynamic_entries:  # (a table of size 0 stays empty)
            self.version += 1
        super().add(name, value)

    @property
    def maxsize(self) -> int:
        return int(self._maxsize)

    @maxsize.setter
    def maxsize(self, newmax: int) -> None:
        self.version += 1
        typing.cast(property, HeaderTable.maxsize).fset(self, newmax)  # type: ignore[misc]


class CachingEncoder(_BaseEncoder):  # type: ignore[misc,unused-ignore]
    """``hpack.Encoder`` that remembers the header blocks it encoded while its dynamic
    table stays unchanged.

    hpack's encoding of a header list is a pure function of the list and of the
    encoder's state (its dynamic table, and whether a table size change is pending). A
    client sending the same request again finds every field already in the table, so
    encoding it changes nothing: the block is the same bytes as last time. Such blocks
    (those whose encoding left the table as it was) are kept, keyed by the fields, and
    served while the table's version (:class:`_VersionedTable`) is the one they were
    encoded at; any change to the table drops them all. Only lists of plain 2-tuples,
    ``HeaderTuple`` or ``NeverIndexedHeaderTuple`` of ``bytes`` are looked up (what h2
    passes); anything else is encoded by hpack as is.
    """

    def __init__(self) -> None:
        super().__init__()
        self.header_table: _VersionedTable = _VersionedTable()
        self._encoded: dict[tuple[typing.Any, ...], bytes] = {}
        self._encoded_version = 0

    @property
    def header_table_size(self) -> int:
        """The dynamic table's size, as the peer's SETTINGS_HEADER_TABLE_SIZE sets it."""
        return self.header_table.maxsize

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        # hpack's own setter forgets a pending change when the same size is set again
        # (its table marks itself resized only when the size differs from the last),
        # and lists every change. The peer must see the smallest size set since the
        # last block and the last one (RFC 7541 section 4.2), or its table drifts from
        # ours: those are the changes kept, and a pending one stays pending.
        table = self.header_table
        pending = table.resized
        old = table.maxsize
        table.maxsize = value
        if value == old:
            table.resized = pending
            return
        smallest = min([value, *self.table_size_changes]) if pending else value
        self.table_size_changes = [smallest, value] if smallest < value else [value]
        table.resized = True

    def encode(self, headers: typing.Any, huffman: bool = True) -> bytes:
        """Encode ``headers`` into a header block, exactly as ``hpack.Encoder`` does
        (but for the table size changes: see :attr:`header_table_size`)."""
        table = self.header_table
        if type(headers) is not list or table.resized:
            return bytes(super().encode(headers, huffman))
        key: list[typing.Any] = [huffman]
        size = 0
        for header in headers:
            kind = type(header)
            if kind is NeverIndexedHeaderTuple:
                key.append(True)
            elif (kind is not tuple and kind is not HeaderTuple) or len(header) != 2:
                return bytes(super().encode(headers, huffman))
            name, value = header
            if type(name) is not bytes or type(value) is not bytes:
                return bytes(super().encode(headers, huffman))
            size += len(name) + len(value)
            key.append(name)
            key.append(value)
        if self._encoded_version != table.version:
            self._encoded.clear()
            self._encoded_version = table.version
        fields = tuple(key)
        encoded = self._encoded.get(fields)
        if encoded is not None:
            return encoded
        version = table.version
        encoded = bytes(super().encode(headers, huffman))
        if (
            table.version == version
            and size <= _ENCODED_FIELDS_MAX
            and len(encoded) <= _ENCODED_BLOCK_MAX
        ):
            if len(self._encoded) >= _ENCODED_MAX:
                self._encoded.clear()
            self._encoded[fields] = encoded
        return encoded
