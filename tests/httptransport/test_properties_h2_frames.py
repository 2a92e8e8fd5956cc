"""Differential tests of the HTTP/2 frame lane (:mod:`httptransport._h2_frames`).

Two client connections are built the same way (:func:`new_client_connection`: same
configuration, local settings, HPACK decoder and encoder), one with the frame lane and
one without, and are made to send the same requests. Then:

* Receiving. A random sequence of server frames (built with hyperframe: SETTINGS and
  their ACK, HEADERS with and without END_STREAM, padding, priority, split over
  CONTINUATION frames, responses, 1xx heads, trailers, malformed header blocks, DATA
  with and without END_STREAM and padding, wrong content-lengths, WINDOW_UPDATE, PING,
  RST_STREAM, GOAWAY, PRIORITY, unknown frame types, frames on unknown, closed, even
  and zero streams, oversized frames, garbage bytes) is cut anywhere into chunks and fed
  to both, with requests opened, streams reset, DATA acknowledged and the connection
  closed (our GOAWAY) between chunks. After every step both must have returned the same
  events (type and every attribute) or raised the same exception (type, error code,
  message), queued the same bytes to send, and hold the same state: connection state
  machine, windows, settings, HPACK tables, received bytes held (the lane holding a
  partial frame's bytes, h2 then holding none), and each stream's state machine,
  windows and content-length tracking.

* Sending. The same header lists (long enough to need CONTINUATION at the frame size
  in force, with and without END_STREAM, with never-indexed fields, on new, reused,
  too-low and even stream ids) give byte-identical output and the same state.

Each of these breakages of the lane, made on purpose, fails some of these tests:
skipping the connection's window accounting, dropping END_STREAM from a request's
HEADERS, calling the decoder without h2's error mapping, not sending GOAWAY on an error,
putting h2's events before the lane's, losing a byte of a partial frame, not recording
a stream's authority, and sending every header fragment as HEADERS.
"""

from __future__ import annotations

import dataclasses
import os
import typing

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

hpack = pytest.importorskip("hpack")
frame = pytest.importorskip("hyperframe.frame")
pytest.importorskip("h2")

import h2.connection  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402

from httptransport import _h2_frames  # noqa: E402
from httptransport._h2_adapter import (  # noqa: E402
    CONNECTION_WINDOW,
    DEFAULT_WINDOW,
    H2,
    import_h2,
    new_client_connection,
)


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
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The streams the client opens before the server's frames arrive, and the ids the
# server's frames are sent on (2: even, server-initiated; 7 and 9: not opened yet, or
# opened between chunks; 0: the connection).
_OPENED = (1, 3, 5)
_STREAM_IDS = st.sampled_from((1, 1, 3, 3, 5, 7, 9, 2, 0))
_REQUEST = [
    (b":method", b"GET"),
    (b":scheme", b"https"),
    (b":authority", b"example.com"),
    (b":path", b"/"),
]


# -- the two connections ------------------------------------------------------------


def _pair(window: int | None = None) -> tuple[typing.Any, typing.Any]:
    """A connection with the lane and one without, configured as we use them (with a
    small stream window when ``window`` is given, to reach flow-control errors)."""
    import_h2()
    assert H2.lane, "the frame lane is off for this h2 release"
    pair = []
    for lane in (True, False):
        conn = new_client_connection(lane=lane)
        if window is not None:
            codes = h2.settings.SettingCodes
            conn.local_settings = h2.settings.Settings(
                client=True,
                initial_values={
                    codes.ENABLE_PUSH: 0,
                    codes.MAX_CONCURRENT_STREAMS: 100,
                    codes.INITIAL_WINDOW_SIZE: window,
                },
            )
        pair.append(conn)
    lane_conn, plain = pair
    assert type(lane_conn).receive_data is not type(plain).receive_data
    return lane_conn, plain


def _attrs(obj: typing.Any) -> dict[str, typing.Any]:
    if dataclasses.is_dataclass(obj) and not hasattr(obj, "__dict__"):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return dict(vars(obj))


def _norm(value: typing.Any) -> typing.Any:
    """Events (and what they hold) as plain comparable values."""
    if isinstance(value, h2.events.Event):
        return (type(value).__name__, {k: _norm(v) for k, v in _attrs(value).items()})
    if isinstance(value, dict):
        return {_norm(k): _norm(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_norm(item) for item in value])
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(value))
    if isinstance(value, (int, str, type(None), float)):
        return value
    return repr(value)


def _h2_buffered(conn: typing.Any) -> bytes:
    """The bytes h2's own frame buffer holds (``_data`` from h2 4.2, ``data`` before)."""
    buffer = conn.incoming_buffer
    held = getattr(buffer, "_data", None)
    if held is None:
        held = buffer.data
    return bytes(held)


def _pending(conn: typing.Any) -> bytes:
    """The received bytes a connection holds (of a frame not yet whole, or left after a
    failing frame), wherever it holds them."""
    return bytes(getattr(conn, "_partial", b"")) + _h2_buffered(conn)


def _state(conn: typing.Any) -> dict[str, typing.Any]:
    """Everything of a connection's protocol state the lane could touch."""
    streams = {}
    for stream_id, stream in sorted(conn.streams.items()):
        streams[stream_id] = {
            "machine": _norm(_attrs(stream.state_machine)),
            "inbound": _norm(_attrs(stream._inbound_window_manager)),
            "outbound": stream.outbound_flow_control_window,
            "expected_length": stream._expected_content_length,
            "actual_length": stream._actual_content_length,
            "authority": stream._authority,
            "method": stream.request_method,
            "max_outbound_frame_size": stream.max_outbound_frame_size,
            # (And whatever else h2 keeps on it, by name.)
            "fields": {
                name: _norm(value)
                for name, value in vars(stream).items()
                if name not in ("config", "state_machine", "_inbound_window_manager")
            },
        }
    return {
        "machine": conn.state_machine.state,
        "outbound": conn.outbound_flow_control_window,
        "inbound": _norm(_attrs(conn._inbound_flow_control_window_manager)),
        "highest_out": conn.highest_outbound_stream_id,
        "highest_in": conn.highest_inbound_stream_id,
        "streams": streams,
        "closed": dict(conn._closed_streams),
        # (Their attributes: h2 4.1's Settings cannot be iterated once a value is
        # pending.)
        "local": _norm(_attrs(conn.local_settings)),
        "remote": _norm(_attrs(conn.remote_settings)),
        "max_inbound_frame_size": conn.max_inbound_frame_size,
        "max_outbound_frame_size": conn.max_outbound_frame_size,
        "decoder": (
            list(conn.decoder.header_table.dynamic_entries),
            conn.decoder.header_table.maxsize,
            conn.decoder.max_header_list_size,
        ),
        "encoder": (
            list(conn.encoder.header_table.dynamic_entries),
            conn.encoder.header_table.maxsize,
            conn.encoder.header_table.resized,
        ),
        "continuation": len(conn.incoming_buffer._headers_buffer),
        "pending": _pending(conn),
    }


def _outcome(call: typing.Callable[[], typing.Any]) -> tuple[str, typing.Any]:
    try:
        result = call()
    except Exception as exc:  # compared below: both must fail alike
        return "raised", (type(exc).__name__, getattr(exc, "error_code", None), str(exc))
    return "returned", _norm(result)


def _same(
    lane: typing.Any,
    plain: typing.Any,
    step: typing.Callable[[typing.Any], typing.Any],
    rest: bytes = b"",
) -> bool:
    """Run ``step`` on both connections and require the same outcome, bytes out and
    state; return whether it raised.

    The one deliberate difference: the lane refuses an oversized frame as soon as its
    header is in, h2 once it is whole. Then h2 is given ``rest`` (the bytes still to
    come, then padding to complete the frame if that is not enough) and must refuse it
    too, with the same error, GOAWAY and state (but for the bytes each still holds).
    """
    got = _outcome(lambda: step(lane))
    expected = _outcome(lambda: step(plain))
    if got[0] == "raised" and got[1][0] == "FrameTooLargeError":
        if expected[0] == "returned":
            expected = _outcome(lambda: plain.receive_data(rest))
        if expected[0] == "returned":  # the frame is not whole yet: complete it
            held = _h2_buffered(plain)
            missing = 9 + int.from_bytes(held[:3], "big") - len(held)
            expected = _outcome(lambda: plain.receive_data(b"\0" * missing))
        assert expected[0] == "raised"
        assert expected[1][:2] == got[1][:2]
        assert lane.data_to_send() == plain.data_to_send()
        lane_state, plain_state = _state(lane), _state(plain)
        del lane_state["pending"], plain_state["pending"]
        assert lane_state == plain_state
        return True
    assert got == expected
    assert lane.data_to_send() == plain.data_to_send()
    assert _state(lane) == _state(plain)
    if got[0] == "raised":
        return True
    # Bytes of an incomplete frame are held once: by the lane, never also by h2.
    assert not _h2_buffered(lane)
    return False


def _open(conn: typing.Any, streams: typing.Iterable[int] = _OPENED) -> None:
    conn.initiate_connection()
    conn.increment_flow_control_window(CONNECTION_WINDOW - DEFAULT_WINDOW)
    for stream_id in streams:
        conn.send_headers(stream_id, list(_REQUEST), end_stream=stream_id != 5)


# -- server frames --------------------------------------------------------------------


def _raw(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    size = len(payload)
    return (
        size.to_bytes(3, "big")
        + bytes((kind, flags))
        + (stream_id & 0xFFFFFFFF).to_bytes(4, "big")
        + payload
    )


_RESPONSE_FIELDS = st.lists(
    st.sampled_from(
        [
            (b"content-type", b"text/plain"),
            (b"server", b"nginx"),
            (b"x-long", b"v" * 300),
            (b"date", b"Sat, 05 Dec 2026 20:40:00 GMT"),
        ]
    ),
    max_size=4,
)

# A frame to put on the wire: built once the frames before it are (header blocks are
# encoded in wire order, by one server encoder).
Build = typing.Callable[[typing.Any], bytes]


@st.composite
def _fields(draw: st.DrawFn, kind: str, length: int | None = None) -> list[typing.Any]:
    fields: list[typing.Any] = []
    if kind == "response":
        fields.append((b":status", draw(st.sampled_from((b"200", b"200", b"204", b"404")))))
        if length is not None:
            fields.append((b"content-length", str(length).encode()))
    elif kind == "informational":
        fields.append((b":status", draw(st.sampled_from((b"100", b"103")))))
    else:
        fields.append((b"x-trailer", b"done"))
    fields += draw(_RESPONSE_FIELDS)
    if draw(st.integers(0, 3)) == 0:
        fields.append(hpack.NeverIndexedHeaderTuple(b"set-cookie", b"secret"))
    return fields


@st.composite
def _headers_frame(draw: st.DrawFn, sid: int, fields: list[typing.Any] | bytes, end: bool) -> Build:
    """HEADERS carrying ``fields`` (or, as bytes, a raw and likely malformed block),
    maybe padded, prioritised or split over CONTINUATION frames."""
    padding = draw(st.sampled_from((None, None, None, 0, 5)))
    priority = draw(st.integers(0, 5)) == 0
    depends_on = draw(st.sampled_from((0, 3, sid)))
    exclusive = draw(st.booleans())
    pieces = draw(st.sampled_from((1, 1, 1, 1, 2, 3)))

    def build(encoder: typing.Any) -> bytes:
        block = fields if isinstance(fields, bytes) else bytes(encoder.encode(fields))
        parts = max(1, min(pieces, len(block)))
        cut = [len(block) * i // parts for i in range(parts + 1)]
        head = frame.HeadersFrame(sid, data=block[cut[0] : cut[1]])
        if end:
            head.flags.add("END_STREAM")
        if padding is not None:
            head.flags.add("PADDED")
            head.pad_length = padding
        if priority:
            head.flags.add("PRIORITY")
            head.depends_on = depends_on
            head.stream_weight = 15
            head.exclusive = exclusive
        if parts == 1:
            head.flags.add("END_HEADERS")
        out = bytes(head.serialize())
        for i in range(1, parts):
            cont = frame.ContinuationFrame(sid, data=block[cut[i] : cut[i + 1]])
            if i == parts - 1:
                cont.flags.add("END_HEADERS")
            out += cont.serialize()
        return out

    return build


@st.composite
def _data_frame(draw: st.DrawFn, sid: int, payload: bytes, end: bool) -> Build:
    padding = draw(st.integers(0, 6)) if draw(st.integers(0, 3)) == 0 else None

    def build(encoder: typing.Any) -> bytes:
        data = frame.DataFrame(sid, data=payload)
        if end:
            data.flags.add("END_STREAM")
        if padding is not None:
            data.flags.add("PADDED")
            data.pad_length = padding
        return bytes(data.serialize())

    return build


@st.composite
def _story(draw: st.DrawFn, sid: int) -> list[Build]:
    """What a server sends on one stream: maybe a 1xx head, a response head, DATA,
    maybe trailers; with a content-length right, wrong or absent."""
    frames: list[Build] = []
    if draw(st.integers(0, 4)) == 0:
        frames.append(draw(_headers_frame(sid, draw(_fields("informational")), False)))
    payloads = draw(st.lists(st.binary(max_size=24), max_size=3))
    total = sum(map(len, payloads))
    length = draw(st.sampled_from((None, None, total, total, total + 1, max(0, total - 1))))
    trailers = draw(st.integers(0, 4)) == 0
    response = draw(_fields("response", length))
    frames.append(draw(_headers_frame(sid, response, not payloads and not trailers)))
    for i, payload in enumerate(payloads):
        last = i == len(payloads) - 1 and not trailers
        frames.append(draw(_data_frame(sid, payload, last)))
    if trailers:
        frames.append(draw(_headers_frame(sid, draw(_fields("trailers")), True)))
    return frames


def _fixed(wire: bytes) -> Build:
    return lambda encoder: wire


@st.composite
def _hostile_frame(draw: st.DrawFn) -> Build:
    """Any other frame, or a frame in the wrong place."""
    kind = draw(
        st.sampled_from(
            (
                "headers",
                "data",
                "settings",
                "settings_ack",
                "window_update",
                "ping",
                "rst",
                "goaway",
                "priority",
                "unknown",
                "oversized",
                "continuation",
                "open_block",
                "garbage",
                "raw",
            )
        )
    )
    sid = draw(_STREAM_IDS) or 1
    if kind == "open_block":
        # HEADERS whose block goes on in CONTINUATION frames that never come: what
        # follows is inside a header block.
        head = frame.HeadersFrame(sid, data=b"\x88")
        return _fixed(bytes(head.serialize()))
    if kind == "headers":
        kinds = st.sampled_from(("response", "informational", "trailers"))
        fields: list[typing.Any] | bytes = (
            draw(_fields(draw(kinds))) if draw(st.booleans()) else draw(st.binary(max_size=12))
        )
        return draw(_headers_frame(sid, fields, draw(st.booleans())))
    if kind == "data":
        return draw(_data_frame(sid, draw(st.binary(max_size=40)), draw(st.booleans())))
    if kind == "oversized":
        return _fixed(_raw(0x0, draw(st.sampled_from((0, 1))), sid, b"x" * 16385))
    if kind == "settings":
        return _fixed(bytes(frame.SettingsFrame(0, settings=draw(_SETTINGS)).serialize()))
    if kind == "settings_ack":
        return _fixed(bytes(frame.SettingsFrame(0, flags=["ACK"]).serialize()))
    if kind == "window_update":
        increment = draw(st.sampled_from((0, 1, 100, 2**31 - 1)))
        sid = draw(_STREAM_IDS)
        return _fixed(bytes(frame.WindowUpdateFrame(sid, window_increment=increment).serialize()))
    if kind == "ping":
        flags = ["ACK"] if draw(st.booleans()) else []
        return _fixed(bytes(frame.PingFrame(0, opaque_data=b"12345678", flags=flags).serialize()))
    if kind == "rst":
        code = draw(st.sampled_from((0, 2, 7, 8)))
        return _fixed(bytes(frame.RstStreamFrame(sid, error_code=code).serialize()))
    if kind == "goaway":
        last = draw(st.sampled_from((0, 1, 3, 5, 7)))
        code = draw(st.sampled_from((0, 1)))
        wire = frame.GoAwayFrame(0, last_stream_id=last, error_code=code).serialize()
        return _fixed(bytes(wire))
    if kind == "priority":
        return _fixed(bytes(frame.PriorityFrame(sid, depends_on=0, stream_weight=3).serialize()))
    if kind == "unknown":
        return _fixed(_raw(0xF0, 0xFF, sid, draw(st.binary(max_size=6))))
    if kind == "continuation":
        cont = frame.ContinuationFrame(sid, data=b"\x88")
        cont.flags.add("END_HEADERS")
        return _fixed(bytes(cont.serialize()))
    if kind == "raw":
        # A frame header with any type and flags (DATA or HEADERS mostly, and on any
        # stream, stream 0 and the reserved bit included) over a short payload.
        return _fixed(
            _raw(
                draw(st.sampled_from((0x0, 0x1, 0x0, 0x1, 0x9, 0x8, 0x3, 0x4, 0x6))),
                draw(st.integers(0, 255)),
                draw(st.sampled_from((0, 1, 3, 5, 0x80000001))),
                draw(st.binary(max_size=10)),
            )
        )
    return _fixed(draw(st.binary(min_size=1, max_size=12)))


_SETTINGS = st.dictionaries(
    st.sampled_from((0x1, 0x2, 0x3, 0x4, 0x5, 0x6)),
    st.one_of(
        st.integers(0, 200),
        st.integers(16384, 20000),
        st.sampled_from((0, 1, 4096, 2**31 - 1, 2**31, 2**24)),
    ),
    max_size=3,
)


@st.composite
def _exchange(draw: st.DrawFn) -> tuple[bytes, list[int], list[tuple[str, int]]]:
    """Server frames' bytes, where to cut them, and what the client does after each
    chunk: the answers to our three streams, interleaved, with now and then a
    hostile frame among them."""
    stories = [draw(_story(sid)) for sid in _OPENED]
    order: list[Build] = []
    if draw(st.booleans()):
        order.append(_fixed(bytes(frame.SettingsFrame(0, settings={0x3: 100}).serialize())))
    while any(stories):
        story = draw(st.sampled_from([story for story in stories if story]))
        order.append(story.pop(0))
    for _ in range(draw(st.sampled_from((0, 0, 1, 2, 3)))):
        order.insert(draw(st.integers(0, len(order))), draw(_hostile_frame()))
    encoder = hpack.Encoder()
    wire = b"".join(build(encoder) for build in order)
    if draw(st.integers(0, 4)) == 0:  # a byte at a time, for a short stretch
        start = draw(st.integers(0, len(wire)))
        cuts = list(range(start, min(len(wire), start + 30)))
    else:
        cuts = draw(st.lists(st.integers(0, len(wire)), max_size=10))
    cuts = sorted(set(cuts) | {len(wire)})
    actions = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ("none",) * 7
                    + ("reset", "request", "ack", "ack-half", "ack-all", "forget", "close")
                ),
                st.sampled_from((1, 3, 5, 7, 9)),
            ),
            min_size=len(cuts),
            max_size=len(cuts),
        )
    )
    return wire, cuts, actions


def _client_action(action: str, stream_id: int) -> typing.Callable[[typing.Any], typing.Any]:
    def act(conn: typing.Any) -> typing.Any:
        if action == "reset":
            conn.reset_stream(stream_id, error_code=8)
        elif action == "request":
            conn.send_headers(stream_id, list(_REQUEST), end_stream=stream_id % 4 == 1)
        elif action == "ack":
            conn.acknowledge_received_data(10, stream_id)
        elif action == "ack-half":  # past half the connection window: WINDOW_UPDATE on it
            conn.acknowledge_received_data(CONNECTION_WINDOW // 2, stream_id)
        elif action == "ack-all":  # and on the stream, if its window was consumed
            conn.acknowledge_received_data(
                conn._inbound_flow_control_window_manager.max_window_size
                - conn.inbound_flow_control_window,
                stream_id,
            )
        elif action == "forget":  # h2 drops its closed streams when it counts open ones
            h2.connection.H2Connection._open_streams(conn, 1)
        elif action == "close":  # our GOAWAY: the server's frames after it are refused
            conn.close_connection()

    return act


def _run(wire: bytes, cuts: list[int], actions: list[tuple[str, int]], window: int | None) -> None:
    lane, plain = _pair(window)
    if _same(lane, plain, _open):
        return
    start = 0
    for cut, (action, stream_id) in zip(cuts, actions, strict=True):
        chunk = wire[start:cut]
        start = cut
        if _same(lane, plain, _receiver(chunk), rest=wire[cut:]):
            return
        if action != "none" and _same(lane, plain, _client_action(action, stream_id)):
            return


@PROPERTY
@given(_exchange())
def test_receiving_matches_h2(exchange: tuple[bytes, list[int], list[tuple[str, int]]]) -> None:
    """Any server frames, in any chunking, with requests and resets between chunks:
    the same events, errors, bytes out and state with the lane as without."""
    _run(*exchange, window=None)


@PROPERTY
@given(_exchange())
def test_receiving_matches_h2_with_small_windows(
    exchange: tuple[bytes, list[int], list[tuple[str, int]]],
) -> None:
    """As above, with a 30-byte stream window, so DATA overflows it (a flow-control
    error the lane must raise as h2 does)."""
    _run(*exchange, window=30)


# -- sending --------------------------------------------------------------------------

_FIELD = st.one_of(
    st.tuples(
        st.sampled_from((b"accept", b"user-agent", b"x-custom", b"cookie", b"authorization")),
        st.sampled_from((b"*/*", b"", b"gzip", b"x" * 50, b"\xff\x00 v")),
    ),
    st.builds(
        hpack.NeverIndexedHeaderTuple,
        st.sampled_from((b"authorization", b"cookie")),
        st.sampled_from((b"secret", b"y" * 30)),
    ),
    st.builds(hpack.HeaderTuple, st.just(b"x-tuple"), st.sampled_from((b"1", b"two"))),
)


@st.composite
def _request(draw: st.DrawFn) -> tuple[int, typing.Any, bool]:
    stream_id = draw(st.sampled_from((1, 3, 5, 7, 9, 11, 13, 2, 3)))
    fields: typing.Any = list(_REQUEST)
    fields[2] = (b":authority", draw(st.sampled_from((b"example.com", b"other.org"))))
    fields[0] = (b":method", draw(st.sampled_from((b"GET", b"HEAD", b"POST"))))
    fields += draw(st.lists(_FIELD, max_size=8))
    shape = draw(st.integers(0, 9))
    if shape == 0:  # str fields: h2's own way
        fields = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in fields]
    elif shape == 1:
        fields = tuple(fields)
    elif shape == 2:
        fields = []
    return stream_id, fields, draw(st.booleans())


def _sender(stream_id: int, fields: typing.Any, end: bool) -> typing.Callable[[typing.Any], None]:
    def send(conn: typing.Any) -> None:
        conn.send_headers(stream_id, fields, end_stream=end)

    return send


def _receiver(wire: bytes) -> typing.Callable[[typing.Any], typing.Any]:
    def receive(conn: typing.Any) -> typing.Any:
        return conn.receive_data(wire)

    return receive


@PROPERTY
@given(
    st.lists(_request(), min_size=1, max_size=8),
    st.sampled_from((None, 1, 7, 20, 64)),
    st.lists(st.sampled_from((0x1, 0x3, 0x5, 0x3 << 8)), max_size=1),
)
def test_sending_headers_matches_h2(
    requests: list[tuple[int, typing.Any, bool]],
    frame_size: int | None,
    server_settings: list[int],
) -> None:
    """The same requests give byte-identical HEADERS and CONTINUATION frames and the
    same state with the lane as without (split at the frame size in force; on reused,
    too-low and even ids, str fields and empty lists: the same errors)."""
    lane, plain = _pair()
    assert not _same(lane, plain, lambda conn: _open(conn, ()))
    for setting in server_settings:
        # The server shrinks our encoder's table, allows 1 stream or none, or allows
        # larger frames.
        code, value = {0x1: (0x1, 100), 0x3: (0x3, 1), 0x5: (0x5, 20000), 0x300: (0x3, 0)}[setting]
        wire = frame.SettingsFrame(0, settings={code: value}).serialize()
        _same(lane, plain, _receiver(wire))
    if frame_size is not None:
        # (Below the protocol's minimum, to split even short blocks many ways.)
        for conn in (lane, plain):
            conn.max_outbound_frame_size = frame_size
    for stream_id, fields, end in requests:
        _same(lane, plain, _sender(stream_id, fields, end))


@PROPERTY
@given(st.integers(1, 40), st.booleans(), st.sampled_from((16384, 100, 9)))
def test_long_header_blocks_match_h2(values: int, end: bool, frame_size: int) -> None:
    """A header block of many kilobytes (several CONTINUATION frames at 16 KiB) is
    sent byte for byte as h2 sends it."""
    lane, plain = _pair()
    fields = list(_REQUEST) + [(b"x-big-%d" % i, b"%d" % i * 700) for i in range(values)]
    for conn in (lane, plain):
        _open(conn, ())
        conn.max_outbound_frame_size = frame_size
    _same(lane, plain, lambda conn: conn.send_headers(1, list(fields), end_stream=end))


# -- edge cases -----------------------------------------------------------------------


def test_lane_is_on_for_the_installed_h2() -> None:
    """Every h2 release we support (4.1 to 4.4) gets the lane."""
    import_h2()
    assert H2.lane
    assert _h2_frames.lane_supported(h2)
    conn = new_client_connection()
    assert type(conn).__name__ == "FrameLaneConnection"
    assert type(new_client_connection(lane=False)) is H2.plain_connection


def test_lane_is_off_for_an_unchecked_h2(monkeypatch: pytest.MonkeyPatch) -> None:
    """An h2 release outside 4.1 to 4.4, or one missing a name the lane relies on, gets
    plain h2."""
    import_h2()
    monkeypatch.setattr(h2, "__version__", "4.5.0")
    assert not _h2_frames.lane_supported(h2)
    monkeypatch.setattr(h2, "__version__", "5.0.0")
    assert not _h2_frames.lane_supported(h2)
    monkeypatch.setattr(h2, "__version__", "4.4.1")
    assert _h2_frames.lane_supported(h2)
    monkeypatch.delattr(h2.connection, "_decode_headers")
    assert not _h2_frames.lane_supported(h2)


def _response(stream_id: int, end: bool = False) -> bytes:
    block = hpack.Encoder().encode([(b":status", b"200")])
    head = frame.HeadersFrame(stream_id, data=block)
    head.flags.add("END_HEADERS")
    if end:
        head.flags.add("END_STREAM")
    return bytes(head.serialize())


def _data(stream_id: int, payload: bytes, end: bool = False) -> bytes:
    data = frame.DataFrame(stream_id, data=payload)
    if end:
        data.flags.add("END_STREAM")
    return bytes(data.serialize())


def test_partial_frames_are_held_once() -> None:
    """A frame cut anywhere is held by the lane alone until whole, then delivered."""
    lane, _ = _pair()
    _open(lane)
    lane.data_to_send()
    wire = _response(1) + _data(1, b"hello", end=True)
    cut = len(wire) - 3
    assert [type(e).__name__ for e in lane.receive_data(wire[:cut])] == ["ResponseReceived"]
    assert lane._partial == wire[len(_response(1)) : cut]
    assert not _h2_buffered(lane)
    events = lane.receive_data(wire[cut:])
    assert [type(e).__name__ for e in events] == ["DataReceived", "StreamEnded"]
    assert events[0].data == b"hello"
    assert lane._partial == b""


def test_events_keep_frame_order_across_both_ways() -> None:
    """Frames the lane takes and frames h2 takes, in one chunk, give their events in
    the order the frames came."""
    lane, _ = _pair()
    _open(lane)
    ping = frame.PingFrame(0, opaque_data=b"abcdefgh").serialize()
    padded = frame.DataFrame(3, data=b"p")
    padded.flags.add("PADDED")
    padded.pad_length = 2
    wire = (
        _response(1)
        + ping
        + _data(1, b"a")
        + _response(3)
        + bytes(padded.serialize())
        + _data(1, b"b", end=True)
    )
    events = lane.receive_data(wire)
    assert [(type(e).__name__, getattr(e, "stream_id", None)) for e in events] == [
        ("ResponseReceived", 1),
        ("PingReceived", None),
        ("DataReceived", 1),
        ("ResponseReceived", 3),
        ("DataReceived", 3),
        ("DataReceived", 1),
        ("StreamEnded", 1),
    ]


def test_data_past_the_connection_window_is_a_flow_control_error() -> None:
    """DATA the lane takes is charged to the connection's window: past it (18 streams
    of under 1 MiB each make more than the 16 MiB window), h2's FlowControlError, and a
    GOAWAY queued, as without the lane."""
    lane, plain = _pair()
    streams = range(1, 37, 2)
    for conn in (lane, plain):
        _open(conn, streams)
        conn.data_to_send()
        conn.receive_data(b"".join(_response(sid) for sid in streams))
    chunk = b"".join(_data(sid, b"z" * 16384) for sid in streams)
    for _ in range(63):
        got = _outcome(lambda: lane.receive_data(chunk))
        assert got == _outcome(lambda: plain.receive_data(chunk))
        assert lane.data_to_send() == plain.data_to_send()
        if got[0] == "raised":
            break
    assert got[0] == "raised"
    assert got[1][0] == "FlowControlError"
    assert _state(lane) == _state(plain)


def test_a_malformed_header_block_is_a_protocol_error() -> None:
    """A HEADERS block hpack cannot decode ends the connection as h2 ends it."""
    lane, plain = _pair()
    for conn in (lane, plain):
        _open(conn)
        conn.data_to_send()
    head = frame.HeadersFrame(1, data=b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff")
    head.flags.add("END_HEADERS")
    wire = head.serialize()
    with pytest.raises(h2.exceptions.ProtocolError):
        lane.receive_data(wire)
    with pytest.raises(h2.exceptions.ProtocolError):
        plain.receive_data(wire)
    assert lane.data_to_send() == plain.data_to_send() != b""


def _feed(chunks: list[bytes], rest: bytes = b"") -> list[bool]:
    """Open streams 1, 3 and 5 on both connections, answer 1 and 3, then feed
    ``chunks`` (each must give the same outcome on both); whether each raised."""
    lane, plain = _pair()
    assert not _same(lane, plain, _open)
    assert not _same(lane, plain, _receiver(_response(1) + _response(3)))
    raised = []
    for chunk in chunks:
        raised.append(_same(lane, plain, _receiver(chunk), rest))
        if raised[-1]:
            break
    return raised


def test_an_oversized_frame_is_refused_as_soon_as_its_header_is_in() -> None:
    """DATA or HEADERS past our SETTINGS_MAX_FRAME_SIZE is refused as h2 refuses it
    (FrameTooLargeError, a GOAWAY with FRAME_SIZE_ERROR), but without waiting for the
    rest of it: a server announcing 16 MiB frames cannot make us hold them."""
    oversized = _raw(0x0, 0, 1, b"x" * 16385)
    assert _feed([oversized[:9000], oversized[9000:]], rest=oversized[9000:]) == [True]
    lane, _ = _pair()
    _open(lane)
    lane.data_to_send()
    header = (2**24 - 1).to_bytes(3, "big") + _raw(0x0, 0, 1, b"")[3:9]
    with pytest.raises(h2.exceptions.FrameTooLargeError):
        lane.receive_data(header + b"x" * 100)
    assert lane._partial == b""
    sent = lane.data_to_send()
    assert sent[3] == 0x7  # GOAWAY
    assert sent[-4:] == (6).to_bytes(4, "big")  # FRAME_SIZE_ERROR
    head = _response(3)
    block = head[9:] + b"\x88" * (16385 - len(head) + 9)
    assert _feed([_raw(0x1, 0x4, 3, block)]) == [True]


def test_frames_inside_a_header_block_are_refused() -> None:
    """Between HEADERS without END_HEADERS and its last CONTINUATION, DATA or HEADERS on
    another stream (that the lane would otherwise take) is a connection error, as in h2."""
    opened = bytes(frame.HeadersFrame(5, data=b"\x88").serialize())
    assert _feed([opened + _data(1, b"a")]) == [True]
    assert _feed([opened, _response(3)]) == [False, True]


def test_a_frame_header_on_the_wrong_stream_is_refused_before_its_payload() -> None:
    """h2 parses a frame's header as soon as it has it: DATA on stream 0 or SETTINGS on
    stream 1 fail with their first 9 bytes, not once the payload is in."""
    assert _feed([_raw(0x0, 0, 0, b"12345")[:12]]) == [True]
    assert _feed([_data(1, b"ok") + _raw(0x4, 0, 1, b"123456")[:9]]) == [True]
    assert _feed([_raw(0x0, 0, 1, b"12345")[:9]]) == [False]


# -- WINDOW_UPDATE written by the lane, and its state-machine shortcuts ---------------
# (acknowledge_received_data writes the frames' bytes itself; the lane skips the
# connection state machine's no-change transitions and looks the stream state
# machine's transitions up in rows of its own.)

_Step = typing.Callable[[typing.Any], typing.Any]


def _both(*steps: _Step, machine: typing.Any = None) -> list[bool]:
    """Run ``steps`` on a lane connection and a plain one (with ``machine``, a state
    machine class, in place of ours when given): whether each raised."""
    lane, plain = _pair()
    if machine is not None:
        lane.state_machine = machine()
        plain.state_machine = machine()
    raised = [_same(lane, plain, _open)]
    for step in steps:
        raised.append(_same(lane, plain, step))
        if raised[-1]:
            break
    return raised


def _receive(wire: bytes) -> _Step:
    return lambda conn: conn.receive_data(wire)


def _ack(size: typing.Any, stream_id: int) -> _Step:
    return lambda conn: conn.acknowledge_received_data(size, stream_id)


def _window_updates(conn: typing.Any) -> list[tuple[int, int]]:
    """The (stream, increment) of each WINDOW_UPDATE ``conn`` queued."""
    out = conn.data_to_send()
    updates = []
    while out:
        parsed, length = frame.Frame.parse_frame_header(memoryview(out[:9]))
        parsed.parse_body(memoryview(out[9 : 9 + length]))
        if isinstance(parsed, frame.WindowUpdateFrame):
            updates.append((parsed.stream_id, parsed.window_increment))
        out = out[9 + length :]
    return updates


def test_acknowledging_a_stream_s_data_writes_h2_s_window_updates() -> None:
    """Acknowledging DATA on an open stream past half its window: the same
    WINDOW_UPDATE bytes (connection's, then the stream's) and windows as h2."""
    body = b"x" * 16000
    raised = _both(
        _receive(_response(5) + _data(5, body) + _data(5, body)),
        _ack(2 * len(body), 5),
        _ack(0, 5),
        _ack(10, 5),
    )
    assert not any(raised)


def test_acknowledging_past_half_the_connection_window_updates_it() -> None:
    """Enough acknowledged on a closed stream updates the connection's window only,
    as h2 does (it does not update a closed stream's)."""
    lane, _ = _pair()
    _open(lane)
    lane.data_to_send()
    lane.receive_data(_response(1) + _data(1, b"y" * 1000, end=True))
    assert not lane.streams[1].open
    lane.acknowledge_received_data(8 * 1024 * 1024, 1)
    assert _window_updates(lane) == [(0, 1000)]
    raised = _both(
        _receive(_response(1) + _data(1, b"y" * 1000, end=True)),
        _ack(8 * 1024 * 1024, 1),
    )
    assert not any(raised)


def test_acknowledging_a_stream_h2_forgot_or_never_had_goes_h2_s_way() -> None:
    """A stream id never opened (h2's NoSuchStreamError), stream 0 and a negative size
    (its ValueError), a stream reset, a closed stream h2 no longer holds: whatever h2
    does."""
    assert _both(_ack(10, 9)) == [False, True]
    assert _both(_ack(10, 0)) == [False, True]
    assert _both(_ack(-1, 1)) == [False, True]
    assert _both(
        lambda conn: conn.reset_stream(1, error_code=8),
        _ack(10, 1),
        _ack(8 * 1024 * 1024, 3),
    ) == [False, False, False, False]


def test_h2_s_own_state_machine_refuses_data_after_goaway() -> None:
    """With h2's stock connection state machine (GOAWAY closes it, so the lane's
    shortcut for the open state no longer applies), DATA and HEADERS after a GOAWAY
    fail as h2 makes them fail."""
    goaway = bytes(frame.GoAwayFrame(0, last_stream_id=5).serialize())
    machine = h2.connection.H2ConnectionStateMachine
    raised = _both(_receive(_response(1) + goaway + _data(1, b"late")), machine=machine)
    assert raised == [False, True]
    raised = _both(_receive(goaway), _receive(_response(3)), machine=machine)
    assert raised == [False, False, True]


def test_data_before_the_response_head_is_h2_s_protocol_error() -> None:
    """DATA on a stream whose response head has not come: the stream state machine's
    own error (the lane's transition rows run h2's transition functions)."""
    raised = _both(_receive(_data(1, b"early")))
    assert raised == [False, True]


def test_trailers_without_end_stream_are_h2_s_protocol_error() -> None:
    """A second HEADERS (trailers) without END_STREAM: h2's ProtocolError, same
    state."""
    raised = _both(_receive(_response(1) + _data(1, b"a") + _response(1)))
    assert raised == [False, True]
    raised = _both(_receive(_response(1) + _data(1, b"a") + _response(1, end=True)))
    assert raised == [False, False]


def test_a_response_head_after_end_stream_is_h2_s_error() -> None:
    """HEADERS on a stream the server already ended: h2's error and state (the lane
    hands a closed stream's frames to h2)."""
    raised = _both(_receive(_response(1, end=True)), _receive(_response(1)))
    assert raised == [False, False, True]


def _forget(conn: typing.Any) -> None:
    """h2 drops the closed streams it holds whenever it counts the open ones."""
    h2.connection.H2Connection._open_streams(conn, 1)


def test_acknowledging_a_closed_stream_h2_dropped_updates_the_connection_only() -> None:
    """DATA of a stream that ended, acknowledged after h2 dropped the stream: the
    connection's WINDOW_UPDATE alone, as h2 writes it."""
    lane, _ = _pair()
    _open(lane)
    lane.data_to_send()
    lane.receive_data(_response(1) + _data(1, b"z" * 5000, end=True))
    _forget(lane)
    assert 1 not in lane.streams
    lane.acknowledge_received_data(8 * 1024 * 1024, 1)
    assert _window_updates(lane) == [(0, 5000)]
    raised = _both(
        _receive(_response(1) + _data(1, b"z" * 5000, end=True)),
        _forget,
        _ack(8 * 1024 * 1024, 1),
        _ack(10, 3),
        _ack(10, 7),
    )
    assert raised == [False, False, False, False, False, True]


# -- what the lane remembers between requests -----------------------------------------
#
# The lane remembers the last request's fields (the very objects: a client sends the
# same cached header list again and again) with their authority, method and encoded
# block, and the last response head's fields (the decoder hands out the same objects
# for the same block) with what h2 works out from them. These tests send and receive
# the same objects again and again, with the encoder's table changing in between.

_SHARED_EXTRA = (
    (b"accept", b"*/*"),
    hpack.NeverIndexedHeaderTuple(b"authorization", b"secret"),
    hpack.HeaderTuple(b"x-tuple", b"two"),
    (b"user-agent", b"x" * 50),
)


@st.composite
def _shared_requests(draw: st.DrawFn) -> tuple[list[typing.Any], list[tuple[str, int, int]]]:
    """A few header lists (their field objects shared between the lists and reused by
    every request that sends them) and a story: requests sending one of them (on the
    next stream id, now and then a reused one), server SETTINGS changing the encoder's
    table size or the frame size between them."""
    lists: list[typing.Any] = [list(_REQUEST)]
    for _ in range(draw(st.integers(1, 3))):
        fields = list(_REQUEST)
        methods = ((b":method", b"GET"), _REQUEST[0], (b":method", b"HEAD"))
        fields[0] = draw(st.sampled_from(methods))
        fields += draw(st.lists(st.sampled_from(_SHARED_EXTRA), max_size=4))
        lists.append(fields)
    story = draw(
        st.lists(
            st.tuples(
                st.sampled_from(("send", "send", "send", "send", "settings", "reuse")),
                st.integers(0, len(lists) - 1),
                st.integers(0, 4),
            ),
            min_size=1,
            max_size=14,
        )
    )
    return lists, story


_TABLE_SETTINGS = (
    {0x1: 0},
    {0x1: 100},
    {0x1: 4096},
    {0x1: 64, 0x5: 20000},
    {0x5: 16384},
)


@PROPERTY
@given(_shared_requests(), st.booleans())
def test_sending_the_same_fields_again_matches_h2(
    shared: tuple[list[typing.Any], list[tuple[str, int, int]]], end: bool
) -> None:
    """The same field objects sent again and again (as a list copied each time, or the
    same list), with the encoder's table resized and refilled in between: the same
    bytes and state as h2's own send_headers."""
    lists, story = shared
    lane, plain = _pair()
    assert not _same(lane, plain, lambda conn: _open(conn, ()))
    stream_id = 1
    for action, which, extra in story:
        fields = lists[which]
        if action == "settings":
            wire = frame.SettingsFrame(0, settings=_TABLE_SETTINGS[extra]).serialize()
            _same(lane, plain, _receiver(wire))
            continue
        sid = max(1, stream_id - 2) if action == "reuse" else stream_id
        sent = fields if extra == 0 else list(fields)
        if not _same(lane, plain, _sender(sid, sent, end)) and action == "send":
            stream_id += 2


def test_sending_the_same_fields_again_after_the_table_changed() -> None:
    """Step by step: the block remembered for a list is used only while the encoder's
    table is as it was; a size update pending, or a field added to the table, and the
    list is encoded again (as h2 encodes it)."""
    lane, plain = _pair()
    fields = [*_REQUEST, _SHARED_EXTRA[0], _SHARED_EXTRA[1]]
    other = [*_REQUEST, (b"x-new", b"value")]
    assert not _same(lane, plain, lambda conn: _open(conn, ()))
    steps = [
        _sender(1, list(fields), True),
        _sender(3, list(fields), True),  # the remembered block
        _receiver(frame.SettingsFrame(0, settings={0x1: 128}).serialize()),
        _sender(5, list(fields), True),  # a table size update first, then encoded again
        _sender(7, list(fields), True),
        _sender(9, list(other), True),  # x-new enters the table: its version changes
        _sender(11, list(fields), True),
        _sender(13, fields, False),
        _sender(13, fields, False),  # a stream that exists: h2's own error
    ]
    raised = [_same(lane, plain, step) for step in steps]
    assert raised == [False] * 8 + [True]
    assert lane._sent is not None
    assert lane._sent[0] == tuple(fields)


def test_a_request_over_the_remembered_size_is_not_remembered() -> None:
    """A request with more than the lane remembers (in bytes of names and values) is
    sent as h2 sends it, and not kept."""
    lane, plain = _pair()
    fields = [*_REQUEST, (b"x-big", b"v" * 5000)]
    assert not _same(lane, plain, lambda conn: _open(conn, ()))
    assert not _same(lane, plain, _sender(1, fields, True))
    assert lane._sent is None
    assert not _same(lane, plain, _sender(3, fields, True))


def _head(status: bytes, length: bytes | None, stream_id: int, end: bool = False) -> bytes:
    """A response head whose block the decoder keeps whole (it touches no dynamic
    table): decoding it again hands out the same field objects."""
    fields = [(b":status", status), (b"server", b"test")]
    if length is not None:
        fields.append((b"content-length", length))
    # (No dynamic table: the decoder keeps the block, and hands out the same fields.)
    head = frame.HeadersFrame(stream_id, data=_literal_block(fields))
    head.flags.add("END_HEADERS")
    if end:
        head.flags.add("END_STREAM")
    return bytes(head.serialize())


def _literal_block(fields: list[tuple[bytes, bytes]]) -> bytes:
    """A header block of literals without indexing (RFC 7541 section 6.2.2): decoding
    it touches no dynamic table."""
    out = bytearray()
    for name, value in fields:
        out.append(0x00)
        out.append(len(name))
        out += name
        out.append(len(value))
        out += value
    return bytes(out)


@pytest.mark.parametrize(
    "story",
    [
        # The same head for GET and HEAD requests: HEAD expects no body whatever the
        # head says, GET the length it declares.
        [
            ("GET", b"200", b"5", b"hello"),
            ("HEAD", b"200", b"5", None),
            ("GET", b"200", b"5", b"hello"),
        ],
        [("HEAD", b"200", b"5", None), ("GET", b"200", b"5", b"hello")],
        # A body shorter or longer than the remembered head declares.
        [("GET", b"200", b"5", b"hello"), ("GET", b"200", b"5", b"hell")],
        [("GET", b"200", b"5", b"hello"), ("GET", b"200", b"5", b"hello!")],
        # An informational head, again and again, then the response.
        [("GET", b"103", None, b""), ("GET", b"103", None, b"")],
        # A malformed length: refused every time it comes.
        [("GET", b"200", b"x5", b"hello"), ("GET", b"200", b"x5", b"hello")],
        [("GET", b"200", None, b"any"), ("GET", b"200", None, b"body")],
    ],
)
def test_receiving_the_same_head_again_matches_h2(
    story: list[tuple[str, bytes, bytes | None, bytes | None]],
) -> None:
    """The same response head (the decoder hands out the same field objects) on stream
    after stream, for GET and HEAD requests, with bodies of the declared length or not,
    informational heads and malformed lengths: the same events, errors and state as
    h2."""
    lane, plain = _pair()
    assert not _same(lane, plain, lambda conn: _open(conn, ()))
    stream_id = 1
    for method, status, length, body in story:
        fields = list(_REQUEST)
        fields[0] = (b":method", method.encode())
        if _same(lane, plain, _sender(stream_id, fields, True)):
            break
        wire = _head(status, length, stream_id, end=body is None)
        if body is not None and status != b"103":
            wire += _data(stream_id, body, end=True)
        elif status == b"103":
            wire += _head(b"200", None, stream_id, end=True)
        if _same(lane, plain, _receiver(wire)):
            break
        stream_id += 2


def test_open_streams_is_h2_s() -> None:
    """Our count of open streams (which also forgets the closed ones, recording how
    each closed) gives what h2's own gives, and leaves the same state."""
    base = h2.connection.H2Connection._open_streams
    ours, theirs = new_client_connection(), new_client_connection(lane=False)
    assert type(theirs)._open_streams is base  # (only the lane replaces it)
    for conn in (ours, theirs):
        _open(conn, (1, 3, 5, 7, 9, 11, 13))
        conn.receive_data(
            _response(1, end=True)
            + _response(3)
            + _data(3, b"x", end=True)
            + _response(5)
            + _response(9, end=True)
        )
        conn.reset_stream(11, error_code=8)
    assert type(ours)._open_streams is not base
    for remainder in (1, 0, 1):
        assert type(ours)._open_streams(ours, remainder) == base(theirs, remainder)
        assert _state(ours) == _state(theirs)
        assert list(ours._closed_streams.items()) == list(theirs._closed_streams.items())
