"""The frames of every request, read and written beside h2 (no I/O).

A request on HTTP/2 is, on the wire, a HEADERS frame out and a HEADERS frame and DATA
frames in. h2 turns each of them into hyperframe objects (flag sets, a chain of
``__init__``), formats a trace line with the frame's ``repr`` whether or not anybody
logs, and serialises objects back into bytes: more than half the CPU of a small request
went there. :func:`frame_lane` subclasses our h2 connection class so that these frames
skip all that:

* ``receive_data`` reads the 9-byte frame headers itself. A DATA frame without padding,
  or a HEADERS frame with END_HEADERS and neither padding nor priority, on a stream that
  is open (or half closed by us), no CONTINUATION sequence pending, within the frame
  size limit, is handled by calling the pieces h2 calls for it, in h2's order: for
  HEADERS the decoding of the header block (h2's own ``_decode_headers``, which maps
  hpack's errors to h2's), the connection state machine, then the stream's
  ``receive_headers``; for DATA the connection state machine, the connection's inbound
  window, then the stream's ``receive_data`` (stream state machine, content-length,
  stream window). Every other frame (SETTINGS, PING, WINDOW_UPDATE, RST_STREAM, GOAWAY,
  padded or prioritised frames, CONTINUATION, frames on closed or unknown streams)
  is handed to h2's own ``receive_data`` alone, one whole frame at a
  time, so that events come out in the order the frames came. The bytes of a frame
  not yet complete stay here, and only here, until the rest arrives.
* One deliberate difference: a frame longer than our SETTINGS_MAX_FRAME_SIZE fails the
  connection (h2's FrameTooLargeError, a GOAWAY with FRAME_SIZE_ERROR) as soon as its
  9-byte header is in. h2 raises the same error only once the whole frame has arrived,
  so a server announcing a 16 MiB frame had it hold up to 16 MiB per connection; here
  a partial frame is never more than the limit (docs/memory-bounds.md).
* ``send_headers`` for a new client stream without priority writes the HEADERS (and
  CONTINUATION) frames' bytes straight into h2's outbound buffer, after the same checks
  and state changes h2 makes (stream limit, connection and stream state machines, the
  stream's authority and request method). The new stream is made as h2's
  ``_begin_new_stream`` makes it (without its debug log calls), once a probe
  connection showed, when the lane is built, that the two make the same stream.
* ``acknowledge_received_data`` writes h2's WINDOW_UPDATE frames (the connection's,
  then the stream's while it is open) as bytes, after the same window-manager calls.
* Inside these, the stream state machine's transitions are looked up in rows indexed
  by state, built from h2's own table (h2 hashes two enum members in Python for each),
  and run with h2's own transition functions; a transition h2's table lacks is left to
  h2's ``process_input`` to refuse. The connection state machine is not fed the inputs
  that change nothing in CLIENT_OPEN (RECV_DATA, RECV_HEADERS, SEND_HEADERS) for a
  machine class whose table says so. The stream's ``receive_headers`` and
  ``receive_data`` are done the same way when no inbound header normalisation,
  validation or decoding is configured (ours), in h2's order.

* What h2 works out again for every request from the same inputs is remembered, one
  entry deep: the last request's header fields (the very objects: the connection sends
  its cached header list again and again; tuples of bytes, so immutable) with their
  authority, method and HPACK block, the block used again only while the encoder's
  table is as it was when it was encoded (the block the CachingEncoder itself would
  serve); and the last response head's fields (the decoder hands out the same objects
  for the same block) with whether they are informational and the content-length they
  declare (a HEAD request's stream is worked out h2's way every time). Each is bounded
  by :data:`_MEMO_FIELDS_MAX` bytes of names and values.
* Small h2 helpers on these paths are done in place, with h2's own call kept for the
  case where it raises: the connection's and the stream's ``window_consumed``, the
  stream's ``_track_content_length``, ``process_bytes`` when h2's algorithm sends no
  WINDOW_UPDATE yet, the configuration's flags and the settings the lane reads, and a
  new stream's construction (checked against h2's on a probe connection).

h2 stays the protocol's state machine of record; this module only skips h2's frame
objects and repeated work. The tests
(``tests/httptransport/test_properties_h2_frames.py``) feed random frame sequences in
random chunkings to a connection with the lane and one without and require the same
events, errors, bytes out and state, and send and receive the same fields again and
again.

The h2 names this relies on, none of them public API (checked on every h2 upgrade; see
:func:`lane_supported`, which turns the lane off for an h2 outside 4.1 to 4.4 or missing
any of them):

* ``H2Connection``: ``_data_to_send`` (a ``bytearray``), ``_inbound_flow_control_window_manager``
  (``window_consumed``, ``process_bytes``), ``_get_or_create_stream``, ``_terminate_connection``,
  ``_prepare_for_sending``, ``max_inbound_frame_size``, ``max_outbound_frame_size``,
  ``state_machine``, ``streams``, ``encoder``, ``decoder``, ``config``,
  ``local_settings``, ``remote_settings``, ``open_outbound_streams``,
  ``highest_outbound_stream_id``, ``acknowledge_received_data``, ``_open_streams``
  (replaced: the same count and clean-up, reading each stream's state directly),
  ``_closed_streams``;
* ``h2.connection.H2ConnectionStateMachine`` (``process_input``, ``_transitions``),
  ``h2.connection.ConnectionState``;
* its ``incoming_buffer`` (``h2.frame_buffer.FrameBuffer``): ``_headers_buffer`` (a
  pending CONTINUATION sequence), ``max_frame_size``, ``add_data``;
* ``h2.connection._decode_headers``, ``h2.connection.ConnectionInputs``,
  ``h2.connection.AllowedStreamIDs``;
* ``H2Stream``: its constructor, ``state_machine`` (``state``, ``trailers_sent``,
  ``process_input``), ``receive_data``, ``receive_headers``, ``open``,
  ``_inbound_window_manager`` (``window_consumed``, ``process_bytes``),
  ``_track_content_length``, ``_initialize_content_length``,
  ``max_outbound_frame_size``, ``max_inbound_frame_size`` (h2 4.1), ``_authority``,
  ``request_method``; ``h2.stream.StreamState`` (an IntEnum), ``h2.stream.StreamInputs``,
  ``h2.stream._transitions`` (the stream state machine's table);
* ``h2.utilities.authority_from_headers``, ``h2.utilities.extract_method_header``,
  ``h2.utilities.is_informational_response``, ``h2.events.TrailersReceived``;
* ``h2.exceptions.ProtocolError``, ``h2.exceptions.TooManyStreamsError``,
  ``h2.exceptions.FrameTooLargeError``;
* ``h2.config.H2Configuration``'s ``_client_side``, ``_normalize_outbound_headers``,
  ``_validate_outbound_headers`` (what its descriptors read); ``h2.settings.Settings``'s
  ``_settings`` (a dict of deques, the current value first);
  ``h2.windows.WindowManager`` (``current_window_size``, ``max_window_size``,
  ``_bytes_processed``, ``window_consumed``, ``process_bytes``);
  ``h2.stream.H2StreamStateMachine`` (its attributes, for a new stream, and
  ``stream_closed_by``);
* hyperframe's ``Frame.parse_frame_header`` (public).

One difference from h2 4.1 is deliberate: its ``send_headers`` reads
``open_outbound_streams`` a second time to word its TooManyStreamsError; the lane reads
it once (same exception, same words, since our property counts down).

Shared as is by the async and the sync connection (it is not generated).
"""

from __future__ import annotations

import struct
import typing
from operator import is_

__all__ = ("frame_lane", "header_block_frames", "lane_supported")

# Frame types and flags (RFC 9113 sections 6.1, 6.2 and 6.10).
_DATA = 0x0
_HEADERS = 0x1
_CONTINUATION = 0x9
_END_STREAM = 0x1
_END_HEADERS = 0x4
_PADDED = 0x8
_PRIORITY = 0x20

# A frame header: the 24-bit length as a byte and a 16-bit half, type, flags, stream.
_FRAME_HEADER = struct.Struct(">BHBBL")
_HEADER_SIZE = 9
# A WINDOW_UPDATE frame (RFC 9113 section 6.9): header (length 4) and increment.
_WINDOW_UPDATE = struct.Struct(">BHBBLL")
_WINDOW_UPDATE_TYPE = 0x8
# The most bytes of names and values (for a response head, counted as RFC 7541 counts a
# header list: name + value + 32 per field) of the one request and the one response head
# the lane remembers (see send_headers and _receive_headers).
_MEMO_FIELDS_MAX = 4096
# The largest flow-control window (RFC 9113 section 6.9.1); h2's WindowManager asserts it.
_LARGEST_WINDOW = 2**31 - 1

# The h2 releases whose private names (the module docstring's list) the lane was
# checked against.
_VERSIONS = ((4, 1), (4, 2), (4, 3), (4, 4))


def header_block_frames(stream_id: int, block: bytes, max_size: int, end_stream: bool) -> bytes:
    """The bytes of a HEADERS frame carrying ``block``, split into CONTINUATION frames
    of at most ``max_size`` bytes of payload, as h2 would send them: END_STREAM (when
    ``end_stream``) on the HEADERS frame, END_HEADERS on the last one."""
    pack = _FRAME_HEADER.pack
    size = len(block)
    if size <= max_size:
        flags = _END_HEADERS | _END_STREAM if end_stream else _END_HEADERS
        return pack(size >> 16, size & 0xFFFF, _HEADERS, flags, stream_id) + block
    parts = []
    kind = _HEADERS
    flags = _END_STREAM if end_stream else 0
    for start in range(0, size, max_size):
        chunk = block[start : start + max_size]
        length = len(chunk)
        if start + max_size >= size:
            flags |= _END_HEADERS
        parts.append(pack(length >> 16, length & 0xFFFF, kind, flags, stream_id))
        parts.append(chunk)
        kind = _CONTINUATION
        flags = 0
    return b"".join(parts)


def _same_fields(one: typing.Any, other: typing.Any) -> bool:
    """Whether two h2 objects hold the same fields, compared through the objects they
    hold (but for their configuration, the same object)."""
    if type(one) is not type(other):
        return False
    if not hasattr(one, "__dict__"):
        return bool(one == other)
    mine, theirs = vars(one), vars(other)
    if mine.keys() != theirs.keys():
        return False
    for name, value in mine.items():
        if name == "config" or callable(value):
            continue
        if isinstance(value, dict):
            if value.keys() != theirs[name].keys() or not all(
                _same_fields(item, theirs[name][key]) for key, item in value.items()
            ):
                return False
        elif not _same_fields(value, theirs[name]):
            return False
    return True


def lane_supported(h2: typing.Any) -> bool:
    """Whether ``h2`` (the package) is a release the lane was checked against, with
    every name the module docstring lists."""
    try:
        version = tuple(int(part) for part in h2.__version__.split(".")[:2])
    except (AttributeError, ValueError):
        return False
    if version not in _VERSIONS:
        return False
    connection = h2.connection
    stream = h2.stream
    utilities = h2.utilities
    exceptions = h2.exceptions
    names = (
        (connection, "_decode_headers"),
        (connection, "ConnectionInputs"),
        (connection, "AllowedStreamIDs"),
        (connection.H2Connection, "_get_or_create_stream"),
        (connection.H2Connection, "_terminate_connection"),
        (connection.H2Connection, "_prepare_for_sending"),
        (connection.H2Connection, "open_outbound_streams"),
        (stream, "StreamState"),
        (stream, "StreamInputs"),
        (stream.H2Stream, "receive_data"),
        (stream.H2Stream, "receive_headers"),
        (stream.H2Stream, "open"),
        (stream.H2Stream, "_track_content_length"),
        (stream.H2Stream, "_initialize_content_length"),
        (stream, "_transitions"),
        (stream.H2StreamStateMachine, "process_input"),
        (connection, "ConnectionState"),
        (connection.H2ConnectionStateMachine, "process_input"),
        (connection.H2ConnectionStateMachine, "_transitions"),
        (connection.H2Connection, "acknowledge_received_data"),
        (utilities, "is_informational_response"),
        (h2.events, "TrailersReceived"),
        (utilities, "authority_from_headers"),
        (utilities, "extract_method_header"),
        (exceptions, "ProtocolError"),
        (exceptions, "TooManyStreamsError"),
        (exceptions, "FrameTooLargeError"),
    )
    if not all(hasattr(owner, name) for owner, name in names):
        return False
    # Instance attributes: look at a connection and a stream.
    probe = connection.H2Connection(h2.config.H2Configuration(client_side=True))
    if type(getattr(probe, "_data_to_send", None)) is not bytearray:
        return False
    if not hasattr(getattr(probe, "_inbound_flow_control_window_manager", None), "window_consumed"):
        return False
    buffer = probe.incoming_buffer
    if type(getattr(buffer, "_headers_buffer", None)) is not list:
        return False
    if not hasattr(buffer, "add_data") or type(getattr(buffer, "max_frame_size", None)) is not int:
        return False
    if type(getattr(probe, "max_inbound_frame_size", None)) is not int:
        return False
    if not hasattr(probe, "_closed_streams") or not hasattr(probe, "_open_streams"):
        return False
    config = probe.config
    if not all(
        type(vars(config).get(name)) is bool
        for name in ("_client_side", "_normalize_outbound_headers", "_validate_outbound_headers")
    ):
        return False
    settings = probe.local_settings
    if type(getattr(settings, "_settings", None)) is not dict:
        return False
    windows = getattr(h2, "windows", None)
    manager = probe._inbound_flow_control_window_manager
    if windows is None or type(manager) is not getattr(windows, "WindowManager", None):
        return False
    if not all(
        hasattr(manager, name)
        for name in ("current_window_size", "max_window_size", "_bytes_processed", "process_bytes")
    ):
        return False
    if not hasattr(stream, "H2StreamStateMachine"):
        return False
    opened = probe._get_or_create_stream(1, connection.AllowedStreamIDs(True))
    if type(getattr(stream, "_transitions", None)) is not dict:
        return False
    if not issubclass(stream.StreamState, int):  # (the lane indexes rows by state)
        return False
    if not hasattr(getattr(opened, "_inbound_window_manager", None), "process_bytes"):
        return False
    if not hasattr(getattr(opened, "state_machine", None), "stream_closed_by"):
        return False
    return all(
        hasattr(opened, name)
        for name in ("state_machine", "max_outbound_frame_size", "_authority", "request_method")
    )


def frame_lane(base: typing.Any, h2: typing.Any) -> typing.Any:
    """A subclass of ``base`` (our ``h2.connection.H2Connection`` subclass) whose
    ``receive_data`` and ``send_headers`` take the lane described in the module
    docstring."""
    connection = h2.connection
    decode_headers = connection._decode_headers
    recv_data = connection.ConnectionInputs.RECV_DATA
    recv_headers = connection.ConnectionInputs.RECV_HEADERS
    send_headers_input = connection.ConnectionInputs.SEND_HEADERS
    client_ids = connection.AllowedStreamIDs(True)
    states = h2.stream.StreamState
    # The stream states where DATA and HEADERS are taken in without h2 raising
    # StreamClosedError (which h2 turns into RST_STREAM or a connection error).
    live = frozenset((states.OPEN, states.HALF_CLOSED_LOCAL))
    stream_send_headers = h2.stream.StreamInputs.SEND_HEADERS
    stream_send_end = h2.stream.StreamInputs.SEND_END_STREAM
    protocol_error = h2.exceptions.ProtocolError
    too_many_streams = h2.exceptions.TooManyStreamsError
    frame_too_large = h2.exceptions.FrameTooLargeError
    authority_from_headers = h2.utilities.authority_from_headers
    extract_method_header = h2.utilities.extract_method_header
    # The fields h2 would pass to the encoder unchanged: plain tuples and hpack's (as h2
    # re-exports them), of bytes.
    header_tuples = frozenset(
        (tuple, h2.utilities.HeaderTuple, h2.utilities.NeverIndexedHeaderTuple)
    )
    # The configuration's flags read as h2's descriptors read them (each a Python call).
    config_class = h2.config.H2Configuration

    def plain_outbound(config: typing.Any) -> bool:
        """Whether ``config`` is a client's that neither normalises nor validates
        outbound headers (what the lane's ``send_headers`` takes)."""
        if type(config) is config_class:
            return bool(
                config._client_side
                and not config._normalize_outbound_headers
                and not config._validate_outbound_headers
            )
        return bool(
            config.client_side
            and not config.normalize_outbound_headers
            and not config.validate_outbound_headers
        )

    # Settings values read as h2's properties read them (a Mapping.get and an item
    # lookup, in Python, for each).
    settings_class = h2.settings.Settings
    setting_codes = h2.settings.SettingCodes
    max_streams_code = setting_codes.MAX_CONCURRENT_STREAMS
    window_code = setting_codes.INITIAL_WINDOW_SIZE

    def max_concurrent(settings: typing.Any) -> typing.Any:
        """``settings.max_concurrent_streams``."""
        if type(settings) is settings_class:
            entry = settings._settings.get(max_streams_code)
            if entry is None:
                return 2**32 + 1
            value = entry[0]
            return 2**32 + 1 if value is None else value
        return settings.max_concurrent_streams

    def initial_window(settings: typing.Any) -> typing.Any:
        """``settings.initial_window_size``."""
        if type(settings) is settings_class:
            entry = settings._settings.get(window_code)
            if entry is not None and entry[0] is not None:
                return entry[0]
        return settings.initial_window_size

    # The encoder class whose blocks send_headers may remember (our CachingEncoder, as
    # our connection class names it; with no such class, none are).
    caching_encoder = getattr(base, "caching_encoder", None)

    base_receive = base.receive_data
    base_send_headers = base.send_headers
    base_acknowledge = base.acknowledge_received_data
    # The stream state machine's transitions for the inputs the lane feeds it, as rows
    # indexed by state (StreamState is an IntEnum; looking the pairs up in h2's table
    # hashes two enum members in Python each time). A missing entry is h2's error:
    # the lane then lets h2's own process_input raise it.
    stream_inputs = h2.stream.StreamInputs
    transitions = h2.stream._transitions
    row_size = max(int(state) for state in states) + 1

    def row(input_: typing.Any) -> list[typing.Any]:
        entries: list[typing.Any] = [None] * row_size
        for state in states:
            entries[state] = transitions.get((state, input_))
        return entries

    recv_data_input = stream_inputs.RECV_DATA
    recv_headers_input = stream_inputs.RECV_HEADERS
    recv_end_input = stream_inputs.RECV_END_STREAM
    window_manager = h2.windows.WindowManager

    def consumed(manager: typing.Any, length: int) -> None:
        """``manager.window_consumed(length)`` for a connection's or a stream's window:
        the window shrunk in place, or h2's own call where it would raise."""
        if type(manager) is window_manager and manager.current_window_size >= length:
            manager.current_window_size -= length
        else:
            manager.window_consumed(length)

    def is_tuple(field: typing.Any) -> bool:
        """Whether a decoded field is immutable all through: a tuple of two bytes."""
        return (
            type(field) in header_tuples
            and len(field) == 2
            and type(field[0]) is bytes
            and type(field[1]) is bytes
        )

    recv_data_row = row(stream_inputs.RECV_DATA)
    recv_headers_row = row(stream_inputs.RECV_HEADERS)
    recv_end_row = row(stream_inputs.RECV_END_STREAM)
    send_headers_row = row(stream_send_headers)
    send_end_row = row(stream_send_end)
    closed = states.CLOSED

    def step(machine: typing.Any, entries: list[typing.Any], input_: typing.Any) -> typing.Any:
        """``machine.process_input(input_)`` (h2's stream state machine), the
        transition looked up in ``entries``."""
        entry = entries[machine.state]
        if entry is None:
            return machine.process_input(input_)  # (raises h2's ProtocolError)
        func, target = entry
        previous = machine.state
        machine.state = target
        if func is None:
            return []
        try:
            return func(machine, previous)
        except protocol_error:
            machine.state = closed
            raise
        except AssertionError:  # pragma: no cover - h2's own "cannot happen"
            # (The transition functions assert before they change anything: h2's
            # process_input then wraps the assertion its own way.)
            machine.state = previous
            return machine.process_input(input_)

    # The connection state machine: in CLIENT_OPEN, h2's takes RECV_DATA, RECV_HEADERS
    # and SEND_HEADERS without a change or an event. Whether a machine class (ours
    # replaces h2's table) does is worked out once per class.
    connection_machine = connection.H2ConnectionStateMachine
    client_open = connection.ConnectionState.CLIENT_OPEN
    quiet_classes: dict[type, bool] = {}

    def quiet(machine: typing.Any) -> bool:
        """Whether feeding ``machine`` RECV_DATA, RECV_HEADERS or SEND_HEADERS now
        would change nothing and return no event."""
        if machine.state is not client_open:
            return False
        kind = type(machine)
        known = quiet_classes.get(kind)
        if known is None:
            table = getattr(kind, "_transitions", None)
            known = (
                kind.process_input is connection_machine.process_input
                and type(table) is dict
                and all(
                    table.get((client_open, input_)) == (None, client_open)
                    for input_ in (recv_data, recv_headers, send_headers_input)
                )
            )
            if len(quiet_classes) < 8:
                quiet_classes[kind] = known
        return known

    is_informational = h2.utilities.is_informational_response

    # h2's _begin_new_stream for a client's new stream, without its three debug log
    # calls and its stream-id arithmetic. h2 4.1 also gives the stream a
    # max_inbound_frame_size, later releases do not: which one this is, and that the
    # stream made here is the stream h2 makes, is checked on a probe connection below.
    stream_class = h2.stream.H2Stream

    machine_class = h2.stream.H2StreamStateMachine
    idle = states.IDLE
    new_object = object.__new__

    def new_stream(conn: typing.Any, stream_id: int) -> typing.Any:
        inbound = initial_window(conn.local_settings)
        outbound = initial_window(conn.remote_settings)
        if type(inbound) is int and 0 <= inbound <= _LARGEST_WINDOW:
            # (h2's H2Stream(stream_id, ...), its state machine and its window manager
            # made attribute by attribute, in their constructors' order: the probe
            # below checks that it is the same stream.)
            machine = new_object(machine_class)
            machine.state = idle
            machine.stream_id = stream_id
            machine.client = None
            machine.headers_sent = None
            machine.trailers_sent = None
            machine.headers_received = None
            machine.trailers_received = None
            machine.stream_closed_by = None
            stream = new_object(stream_class)
            stream.state_machine = machine
            stream.stream_id = stream_id
            stream.max_outbound_frame_size = None
            stream.request_method = None
            stream.outbound_flow_control_window = outbound
            manager = new_object(window_manager)
            manager.max_window_size = inbound
            manager.current_window_size = inbound
            manager._bytes_processed = 0
            stream._inbound_window_manager = manager
            stream._expected_content_length = None
            stream._actual_content_length = 0
            stream._authority = None
            stream.config = conn.config
        else:
            stream = stream_class(
                stream_id,
                config=conn.config,
                inbound_window_size=inbound,
                outbound_window_size=outbound,
            )
        stream.max_outbound_frame_size = conn.max_outbound_frame_size
        if inbound_size_kept:
            stream.max_inbound_frame_size = conn.max_inbound_frame_size
        conn.streams[stream_id] = stream
        conn.highest_outbound_stream_id = stream_id
        return stream

    probe_config = h2.config.H2Configuration(client_side=True)
    theirs = connection.H2Connection(config=probe_config)
    theirs._get_or_create_stream(1, client_ids)
    inbound_size_kept = "max_inbound_frame_size" in vars(theirs.streams[1])
    ours = connection.H2Connection(config=probe_config)
    new_stream(ours, 1)
    own_streams = _same_fields(theirs, ours) and _same_fields(theirs.streams[1], ours.streams[1])
    # The stream states h2's H2Stream.open counts as open, read off a probe stream.
    probe_stream = theirs.streams[1]
    open_states = set()
    for state in states:
        probe_stream.state_machine.state = state
        if probe_stream.open:
            open_states.add(state)
    trailers_received = h2.events.TrailersReceived
    unpack = _FRAME_HEADER.unpack_from
    # hyperframe (h2's dependency) parses frame headers for h2's own buffer.
    import hyperframe.frame

    parse_frame_header = hyperframe.frame.Frame.parse_frame_header

    class FrameLaneConnection(base):  # type: ignore[misc]
        # The start of a frame not yet whole (see the module docstring).
        _partial = b""
        # Set once a frame raised: h2 alone reads what follows (see receive_data).
        _failed = False
        # The last request's fields (as a tuple: the same objects), their authority and
        # method, and the encoder, its table's version and the block it encoded them to
        # (see send_headers).
        _sent: typing.Any = None

        def _open_streams(self, remainder: int) -> int:
            # h2's _open_streams (count the open streams of one parity, and forget the
            # closed ones, recording how each closed), reading an h2 stream's state
            # without its open, closed and closed_by properties.
            count = 0
            to_delete = []
            streams = self.streams
            for stream_id, stream in streams.items():
                if type(stream) is stream_class:
                    state = stream.state_machine.state
                    if state in open_states and stream_id % 2 == remainder:
                        count += 1
                    elif state == closed:
                        to_delete.append(stream_id)
                elif stream.open and stream_id % 2 == remainder:
                    count += 1
                elif stream.closed:
                    to_delete.append(stream_id)
            closed_streams = self._closed_streams
            for stream_id in to_delete:
                stream = streams.pop(stream_id)
                closed_streams[stream_id] = (
                    stream.state_machine.stream_closed_by
                    if type(stream) is stream_class
                    else stream.closed_by
                )
            return count

        def receive_data(self, data: typing.Any) -> list[typing.Any]:
            if self._failed:
                return typing.cast("list[typing.Any]", base_receive(self, data))
            partial = self._partial
            if partial:
                data = partial + data
                self._partial = b""
            elif type(data) is not bytes:
                data = bytes(data)
            events: list[typing.Any] = []
            size = len(data)
            pos = 0
            streams = self.streams
            buffer = self.incoming_buffer
            limit = buffer.max_frame_size = self.max_inbound_frame_size
            config = self.config
            encoding = config.header_encoding
            # h2's receive_headers without its header passes (turned off), as below.
            bare_headers = (
                (encoding is None or encoding is False)
                and not config.normalize_inbound_headers
                and not config.validate_inbound_headers
            )
            machine = self.state_machine
            # Whether the connection state machine takes DATA and HEADERS as they come
            # (quiet()), worked out again whenever something else may have changed it.
            calm = quiet(machine)
            try:
                while size - pos >= _HEADER_SIZE:
                    high, low, kind, flags, stream_id = unpack(data, pos)
                    length = (high << 16) | low
                    if length > limit:
                        self._refuse_oversized(data[pos : pos + _HEADER_SIZE], length, limit)
                    start = pos + _HEADER_SIZE
                    end = start + length
                    if end > size:
                        break
                    begin = pos
                    pos = end
                    if kind <= _HEADERS and not buffer._headers_buffer:
                        stream = streams.get(stream_id & 0x7FFFFFFF)
                        if (
                            stream is not None
                            and stream.state_machine.state in live
                            and type(stream) is stream_class
                        ):
                            if kind == _DATA:
                                if not flags & _PADDED:
                                    try:
                                        if not calm:
                                            events += machine.process_input(recv_data)
                                            calm = quiet(machine)
                                        consumed(self._inbound_flow_control_window_manager, length)
                                        events += _receive_data(
                                            stream, data[start:end], flags & _END_STREAM, length
                                        )
                                    except protocol_error as exc:
                                        self._terminate_connection(exc.error_code)
                                        raise
                                    continue
                            elif flags & (_END_HEADERS | _PADDED | _PRIORITY) == _END_HEADERS:
                                try:
                                    headers = decode_headers(self.decoder, data[start:end])
                                    if not calm:
                                        events += machine.process_input(recv_headers)
                                        calm = quiet(machine)
                                    if bare_headers:
                                        events += _receive_headers(
                                            stream, headers, flags & _END_STREAM
                                        )
                                    else:
                                        frames, stream_events = stream.receive_headers(
                                            headers, bool(flags & _END_STREAM), encoding
                                        )
                                        if frames:  # pragma: no cover - h2 returns none
                                            self._prepare_for_sending(frames)
                                        events += stream_events
                                except protocol_error as exc:
                                    self._terminate_connection(exc.error_code)
                                    raise
                                continue
                    # Anything else: h2's own way, this frame alone.
                    events += base_receive(self, data[begin:end])
                    limit = self.max_inbound_frame_size
                    machine = self.state_machine
                    calm = quiet(machine)
            except BaseException:
                # h2 keeps what follows a failing frame in its buffer (and the frame too
                # when it could not parse it), and so does any later call: from now on
                # everything goes h2's way.
                self._failed = True
                buffer.add_data(data[pos:])
                raise
            if pos < size:
                tail = data[pos:]
                if size - pos >= _HEADER_SIZE:
                    # h2 parses a frame's header as soon as it has it, and refuses a
                    # frame on the wrong kind of stream then: so do we, with the
                    # same parser.
                    try:
                        parse_frame_header(memoryview(tail)[:_HEADER_SIZE])
                    except Exception:
                        # (h2 raises here, as it would have; if not, it holds the
                        # bytes now, and from now on reads everything itself.)
                        self._failed = True
                        events += base_receive(self, tail)
                        return events
                self._partial = tail
            return events

        def _refuse_oversized(self, header: bytes, length: int, limit: int) -> None:
            """Fail the connection on a frame longer than our SETTINGS_MAX_FRAME_SIZE
            as soon as its header is in (see the module docstring)."""
            # h2 first refuses a header on the wrong kind of stream: it raises here then.
            base_receive(self, header)
            error = frame_too_large(
                f"Received a frame of {length} bytes; at most {limit} are allowed."
            )
            self._terminate_connection(error.error_code)
            raise error

        def send_headers(
            self,
            stream_id: int,
            headers: typing.Any,
            end_stream: bool = False,
            priority_weight: int | None = None,
            priority_depends_on: int | None = None,
            priority_exclusive: bool | None = None,
        ) -> None:
            config = self.config
            common = (
                priority_weight is None
                and priority_depends_on is None
                and priority_exclusive is None
                and type(headers) is list
                and stream_id not in self.streams
                and plain_outbound(config)
            )
            memo = self._sent
            size = 0  # (of the fields' names and values, when not the last request's)
            if common:
                if (
                    memo is not None
                    and len(headers) == len(memo[0])
                    and all(map(is_, headers, memo[0]))
                ):
                    # The very fields of the last request: checked then, and immutable.
                    authority = memo[1]
                    method = memo[2]
                else:
                    memo = None
                    common = bool(headers)
                    for field in headers:
                        if not is_tuple(field):
                            common = False
                            break
                        size += len(field[0]) + len(field[1])
                    authority = method = None
                    if common:
                        authority = authority_from_headers(headers)
                        method = extract_method_header(headers)
            if not common:
                base_send_headers(
                    self,
                    stream_id,
                    headers,
                    end_stream,
                    priority_weight,
                    priority_depends_on,
                    priority_exclusive,
                )
                return
            # The checks and state changes of h2's send_headers and H2Stream.send_headers,
            # in their order.
            most = max_concurrent(self.remote_settings)
            count = self.open_outbound_streams
            if count + 1 > most:
                raise too_many_streams(f"Max outbound streams is {most}, {count} open")
            connection_state = self.state_machine
            if not quiet(connection_state):
                connection_state.process_input(send_headers_input)
            if own_streams and stream_id & 1 and stream_id > self.highest_outbound_stream_id:
                stream = new_stream(self, stream_id)
            else:
                stream = self._get_or_create_stream(stream_id, client_ids)
            machine = stream.state_machine
            step(machine, send_headers_row, stream_send_headers)
            encoder = self.encoder
            caching = type(encoder) is caching_encoder
            table: typing.Any = None
            version: typing.Any = None
            resized = True
            if caching:
                table = encoder.header_table
                version = table.version
                resized = table.resized
            if memo is not None and memo[3] is encoder and memo[4] == version and not resized:
                # The CachingEncoder would serve the same block from its own table.
                block = memo[5]
            else:
                block = encoder.encode(headers)
                # (Remembered as the CachingEncoder keeps blocks: encoded with no table
                # size update pending, and leaving the table as it was.)
                if (
                    not resized
                    and table.version == version
                    and not table.resized
                    and size <= _MEMO_FIELDS_MAX
                ):
                    fields = tuple(headers) if memo is None else memo[0]
                    self._sent = (fields, authority, method, encoder, version, block)
                else:
                    self._sent = None
            if end_stream:
                step(machine, send_end_row, stream_send_end)
            if machine.trailers_sent and not end_stream:  # pragma: no cover - a new stream
                raise protocol_error("Trailers must have END_STREAM set.")
            if stream._authority is None:
                stream._authority = authority
            stream.request_method = method
            self._data_to_send += header_block_frames(
                stream_id, block, stream.max_outbound_frame_size, end_stream
            )

        def acknowledge_received_data(self, acknowledged_size: int, stream_id: int) -> None:
            stream = self.streams.get(stream_id)
            if (
                type(acknowledged_size) is not int
                or acknowledged_size < 0
                or type(stream_id) is not int
                or (
                    stream is None
                    # (A stream of ours h2 has forgotten, closed: h2 then updates
                    # the connection's window alone. Otherwise h2 raises.)
                    and not (
                        stream_id & 1
                        and 0 < stream_id <= self.highest_outbound_stream_id
                        and self.config.client_side
                    )
                )
            ):
                base_acknowledge(self, acknowledged_size, stream_id)
                return
            # h2's acknowledge_received_data, its WINDOW_UPDATE frames written as bytes:
            # the connection's first, then the stream's while it is open.
            manager = self._inbound_flow_control_window_manager
            if (
                type(manager) is window_manager
                and manager.current_window_size
                and manager._bytes_processed + acknowledged_size < manager.max_window_size // 2
            ):
                # (process_bytes(acknowledged_size) where h2's algorithm holds the
                # update back: the bytes are only counted.)
                manager._bytes_processed += acknowledged_size
            else:
                increment = manager.process_bytes(acknowledged_size)
                if increment:
                    self._data_to_send += _WINDOW_UPDATE.pack(
                        0, 4, _WINDOW_UPDATE_TYPE, 0, 0, increment & 0x7FFFFFFF
                    )
            if stream is not None and (
                stream.state_machine.state in open_states
                if type(stream) is stream_class
                else stream.open
            ):
                increment = stream._inbound_window_manager.process_bytes(acknowledged_size)
                if increment:
                    self._data_to_send += _WINDOW_UPDATE.pack(
                        0, 4, _WINDOW_UPDATE_TYPE, 0, stream_id & 0x7FFFFFFF, increment & 0x7FFFFFFF
                    )

    def _receive_data(stream: typing.Any, data: bytes, end: int, length: int) -> typing.Any:
        """The events of h2's ``stream.receive_data(data, end, length)``, in its order."""
        machine = stream.state_machine
        events = step(machine, recv_data_row, recv_data_input)
        event = events[0]
        consumed(stream._inbound_window_manager, length)
        # (_track_content_length(len(data), end), h2's own call when it raises.)
        size = len(data)
        actual = stream._actual_content_length + size
        expected = stream._expected_content_length
        if expected is None or (expected >= actual and (not end or expected == actual)):
            stream._actual_content_length = actual
        else:
            stream._track_content_length(size, bool(end))
        if end:
            ended = step(machine, recv_end_row, recv_end_input)
            event.stream_ended = ended[0]
            events += ended
        event.data = data
        event.flow_controlled_length = length
        return events

    # The last response head's fields (the decoder hands out the same field objects for
    # the same block), whether they are an informational head, and the content-length
    # they declare: both pure functions of the fields (see _receive_headers).
    heads: list[typing.Any] = [None]

    def _receive_headers(stream: typing.Any, headers: typing.Any, end: int) -> typing.Any:
        """The events of h2's ``stream.receive_headers(headers, end, None)`` with no
        header normalisation or validation configured, in its order."""
        memo = heads[0]
        if (
            memo is not None
            and type(headers) is list
            and len(headers) == len(memo[0])
            and all(map(is_, headers, memo[0]))
        ):
            informational = memo[1]
        else:
            memo = None
            informational = is_informational(headers)
        if informational:
            return stream.receive_headers(headers, bool(end), None)[1]
        machine = stream.state_machine
        events = step(machine, recv_headers_row, recv_headers_input)
        event = events[0]
        if end:
            ended = step(machine, recv_end_row, recv_end_input)
            event.stream_ended = ended[0]
            events += ended
        if memo is not None and stream.request_method != b"HEAD":
            # (_initialize_content_length(headers): the same fields, the same length.)
            stream._expected_content_length = memo[2]
        else:
            stream._initialize_content_length(headers)
            if (
                type(headers) is list
                and stream.request_method != b"HEAD"
                and all(map(is_tuple, headers))
                and sum(len(name) + len(value) + 32 for name, value in headers) <= _MEMO_FIELDS_MAX
            ):
                heads[0] = (tuple(headers), informational, stream._expected_content_length)
        if not end and isinstance(event, trailers_received):
            raise protocol_error("Trailers must have END_STREAM set")
        event.headers = list(headers)
        return events

    return FrameLaneConnection
