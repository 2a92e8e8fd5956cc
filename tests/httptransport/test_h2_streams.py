"""The HTTP/2 stream table (sans-IO): delivery of h2's events to streams."""

from __future__ import annotations

import typing

import pytest

pytest.importorskip("h2")

import h2.events

from httptransport._h2_adapter import import_h2
from httptransport._h2_streams import DataChunk, H2Stream, StreamTable

import_h2()


class _Credit:
    """Records the window given back for dropped DATA."""

    def __init__(self) -> None:
        self.acknowledged: list[tuple[int, int]] = []

    def acknowledge_received_data(self, size: int, stream_id: int) -> None:
        self.acknowledged.append((size, stream_id))


def _wake(waiter: typing.Any) -> None:
    waiter.set()


def _event(kind: typing.Any, stream_id: int) -> typing.Any:
    try:  # h2 4.2 and later: keyword fields
        return kind(stream_id=stream_id)
    except TypeError:  # h2 4.1: set after construction
        event = kind()
        event.stream_id = stream_id
        return event


def _data(stream_id: int, data: bytes, padding: int = 0) -> typing.Any:
    event = _event(h2.events.DataReceived, stream_id)
    event.data = data
    event.flow_controlled_length = len(data) + padding
    return event


def test_tiny_data_frames_queue_bytes_not_events() -> None:
    """10,000 one-byte DATA frames for a stream whose reader is behind queue one event
    holding the bytes and their flow-controlled length (padding included)."""
    table = StreamTable(100, _wake)
    stream = table.streams[1] = H2Stream(1)
    events = [_data(1, b"x", padding=1 if i % 2 else 0) for i in range(10_000)]
    settings, failure = table.dispatch(_Credit(), events)
    assert settings is None
    assert failure is None
    assert len(stream.events) == 1
    [chunk] = stream.events
    assert type(chunk) is DataChunk
    assert chunk.data == b"x" * 10_000
    assert chunk.flow_controlled_length == 15_000
    assert stream.signalled


def test_data_after_other_events_and_single_frames_stay_as_they_are() -> None:
    """A lone DATA frame is queued as h2 made it; DATA is never merged across another
    event (the end of the stream, trailers)."""
    table = StreamTable(100, _wake)
    stream = table.streams[1] = H2Stream(1)
    first = _data(1, b"ab")
    table.dispatch(_Credit(), [first])
    assert list(stream.events) == [first]
    ended = _event(h2.events.StreamEnded, 1)
    table.dispatch(_Credit(), [ended])
    late = _data(1, b"cd")
    table.dispatch(_Credit(), [late])
    assert list(stream.events) == [first, ended, late]


def test_data_for_a_stream_no_longer_open_is_credited_back() -> None:
    table = StreamTable(100, _wake)
    credit = _Credit()
    table.dispatch(credit, [_data(3, b"abc", padding=2)])
    assert credit.acknowledged == [(5, 3)]
