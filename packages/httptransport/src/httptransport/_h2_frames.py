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

h2 stays the protocol's state machine of record; this module only skips h2's frame
objects. The tests (``tests/httptransport/test_properties_h2_frames.py``) feed random
frame sequences in random chunkings to a connection with the lane and one without and
require the same events, errors, bytes out and state.

The h2 names this relies on, none of them public API (checked on every h2 upgrade; see
:func:`lane_supported`, which turns the lane off for an h2 outside 4.1 to 4.4 or missing
any of them):

* ``H2Connection``: ``_data_to_send`` (a ``bytearray``), ``_inbound_flow_control_window_manager``
  (``window_consumed``, ``process_bytes``), ``_get_or_create_stream``, ``_terminate_connection``,
  ``_prepare_for_sending``, ``max_inbound_frame_size``, ``max_outbound_frame_size``,
  ``state_machine``, ``streams``, ``encoder``, ``decoder``, ``config``,
  ``local_settings``, ``remote_settings``, ``open_outbound_streams``,
  ``highest_outbound_stream_id``, ``acknowledge_received_data``;
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
* hyperframe's ``Frame.parse_frame_header`` (public).

One difference from h2 4.1 is deliberate: its ``send_headers`` reads
``open_outbound_streams`` a second time to word its TooManyStreamsError; the lane reads
it once (same exception, same words, since our property counts down).

Shared as is by the async and the sync connection (it is not generated).
"""

from __future__ import annotations

import struct
import typing

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
    opened = probe._get_or_create_stream(1, connection.AllowedStreamIDs(True))
    if type(getattr(stream, "_transitions", None)) is not dict:
        return False
    if not issubclass(stream.StreamState, int):  # (the lane indexes rows by state)
        return False
    if not hasattr(getattr(opened, "_inbound_window_manager", None), "process_bytes"):
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

    def new_stream(conn: typing.Any, stream_id: int) -> typing.Any:
        stream = stream_class(
            stream_id,
            config=conn.config,
            inbound_window_size=conn.local_settings.initial_window_size,
            outbound_window_size=conn.remote_settings.initial_window_size,
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
                        if stream is not None and stream.state_machine.state in live:
                            if kind == _DATA:
                                if not flags & _PADDED:
                                    try:
                                        if not quiet(machine):
                                            events += machine.process_input(recv_data)
                                        self._inbound_flow_control_window_manager.window_consumed(
                                            length
                                        )
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
                                    if not quiet(machine):
                                        events += machine.process_input(recv_headers)
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
                and stream_id not in self.streams
                and type(headers) is list
                and bool(headers)
                and config.client_side
                and not config.normalize_outbound_headers
                and not config.validate_outbound_headers
            )
            if common:
                for field in headers:
                    if (
                        type(field) not in header_tuples
                        or len(field) != 2
                        or type(field[0]) is not bytes
                        or type(field[1]) is not bytes
                    ):
                        common = False
                        break
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
            most = self.remote_settings.max_concurrent_streams
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
            block = self.encoder.encode(headers)
            if end_stream:
                step(machine, send_end_row, stream_send_end)
            if machine.trailers_sent and not end_stream:  # pragma: no cover - a new stream
                raise protocol_error("Trailers must have END_STREAM set.")
            if stream._authority is None:
                stream._authority = authority_from_headers(headers)
            stream.request_method = extract_method_header(headers)
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
            increment = self._inbound_flow_control_window_manager.process_bytes(acknowledged_size)
            if increment:
                self._data_to_send += _WINDOW_UPDATE.pack(
                    0, 4, _WINDOW_UPDATE_TYPE, 0, 0, increment & 0x7FFFFFFF
                )
            if stream is not None and stream.open:
                increment = stream._inbound_window_manager.process_bytes(acknowledged_size)
                if increment:
                    self._data_to_send += _WINDOW_UPDATE.pack(
                        0, 4, _WINDOW_UPDATE_TYPE, 0, stream_id & 0x7FFFFFFF, increment & 0x7FFFFFFF
                    )

    def _receive_data(stream: typing.Any, data: bytes, end: int, length: int) -> typing.Any:
        """The events of h2's ``stream.receive_data(data, end, length)``, in its order."""
        machine = stream.state_machine
        events = step(machine, recv_data_row, stream_inputs.RECV_DATA)
        event = events[0]
        stream._inbound_window_manager.window_consumed(length)
        stream._track_content_length(len(data), bool(end))
        if end:
            ended = step(machine, recv_end_row, stream_inputs.RECV_END_STREAM)
            event.stream_ended = ended[0]
            events += ended
        event.data = data
        event.flow_controlled_length = length
        return events

    def _receive_headers(stream: typing.Any, headers: typing.Any, end: int) -> typing.Any:
        """The events of h2's ``stream.receive_headers(headers, end, None)`` with no
        header normalisation or validation configured, in its order."""
        if is_informational(headers):
            return stream.receive_headers(headers, bool(end), None)[1]
        machine = stream.state_machine
        events = step(machine, recv_headers_row, stream_inputs.RECV_HEADERS)
        event = events[0]
        if end:
            ended = step(machine, recv_end_row, stream_inputs.RECV_END_STREAM)
            event.stream_ended = ended[0]
            events += ended
        stream._initialize_content_length(headers)
        if not end and isinstance(event, trailers_received):
            raise protocol_error("Trailers must have END_STREAM set")
        event.headers = list(headers)
        return events

    return FrameLaneConnection
