"""Small helpers' edge cases: the ``timeout`` extension with ``total: None``, error
mapping that lets unmapped exceptions through, and the caching HPACK decoder and encoder
refusing (or passing on) exactly what hpack itself refuses (or encodes)."""

from __future__ import annotations

import itertools
import time

import pytest

from httptransport import ReadTimeout, RemoteProtocolError, Request
from httptransport._exceptions import map_exceptions
from httptransport._timeouts import time_left, timeouts

hpack = pytest.importorskip("hpack")
hpack_exceptions = pytest.importorskip("hpack.exceptions")

from httptransport._hpack import CachingDecoder, CachingEncoder  # noqa: E402

_unique = itertools.count()


def test_total_none_is_no_deadline() -> None:
    """``total: None`` sets no deadline: every phase keeps its own timeout."""
    given = {"total": None, "read": 5.0}
    request = Request("GET", "http://example.com/", extensions={"timeout": given})
    assert timeouts(request) is given
    assert request._deadline is None


def test_time_left_without_a_deadline_or_after_it() -> None:
    assert time_left(5.0, None) == 5.0
    assert time_left(None, None) is None
    assert time_left(5.0, time.monotonic() + 3600) == 5.0
    with pytest.raises(ReadTimeout, match="total timeout ran out"):
        time_left(5.0, time.monotonic() - 1.0)


def test_unmapped_exceptions_pass_unchanged() -> None:
    error = KeyError("not mapped")
    with pytest.raises(KeyError) as info, map_exceptions({ValueError: RemoteProtocolError}):
        raise error
    assert info.value is error
    with (
        pytest.raises(RemoteProtocolError) as mapped,
        map_exceptions({ValueError: RemoteProtocolError}),
    ):
        raise ValueError("mapped")
    assert isinstance(mapped.value.__cause__, ValueError)


def _new_block(value_size: int = 10) -> bytes:
    """A header block no decoder has seen: one literal field without indexing (RFC 7541
    section 6.2.2), new name, no Huffman; it touches no dynamic table (so it is cached
    whole once decoded)."""
    name = b"x-cov-%d" % next(_unique)
    value = b"v" * value_size
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def _both(block: bytes, **settings: int) -> list[BaseException | list[tuple[bytes, bytes]]]:
    """What a CachingDecoder and an hpack Decoder with ``settings`` make of ``block``."""
    outcomes: list[BaseException | list[tuple[bytes, bytes]]] = []
    for decoder in (CachingDecoder(), hpack.Decoder()):
        for name, value in settings.items():
            setattr(decoder, name, value)
        try:
            outcomes.append([tuple(field) for field in decoder.decode(block, raw=True)])
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


@pytest.mark.parametrize("cached", [False, True], ids=["first-time", "cached"])
def test_block_over_the_header_list_limit(cached: bool) -> None:
    block = _new_block(100)
    if cached:
        assert CachingDecoder().decode(block, raw=True)  # within the default limit
    ours, theirs = _both(block, max_header_list_size=50)
    assert isinstance(ours, hpack_exceptions.OversizedHeaderListError)
    assert isinstance(theirs, hpack_exceptions.OversizedHeaderListError)


@pytest.mark.parametrize("cached", [False, True], ids=["first-time", "cached"])
def test_table_larger_than_allowed_without_a_size_update(cached: bool) -> None:
    """The decoder's allowed table size was lowered (our SETTINGS) and the block does
    not start with the size update that must follow: refused, as hpack refuses it."""
    block = _new_block()
    if cached:
        assert CachingDecoder().decode(block, raw=True)
    ours, theirs = _both(block, max_allowed_table_size=0)
    assert isinstance(ours, hpack_exceptions.InvalidTableSizeError)
    assert isinstance(theirs, hpack_exceptions.InvalidTableSizeError)


def test_encoder_passes_text_fields_to_hpack() -> None:
    """Fields given as text, not bytes, are encoded by hpack as they are (not cached)."""
    fields = [(":method", "GET"), ("x-text", "value")]
    ours, theirs = CachingEncoder(), hpack.Encoder()
    for _ in range(2):
        assert ours.encode(fields) == theirs.encode(fields)
