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
  stream's authority and request method).

h2 stays the protocol's state machine of record; this module only skips h2's frame
objects. The tests (``tests/httptransport/test_properties_h2_frames.py``) feed random
frame sequences in random chunkings to a connection with the lane and one without and
require the same events, errors, bytes out and state.

The h2 names this relies on, none of them public API (checked on every h2 upgrade; see
:func:`lane_supported`, which turns the lane off for an h2 outside 4.1 to 4.4 or missing
any of them):

* ``H2Connection``: ``_data_to_send`` (a ``bytearray``), ``_inbound_flow_control_window_manager``
  (``window_consumed``), ``_get_or_create_stream``, ``_terminate_connection``,
  ``_prepare_for_sending``, ``max_inbound_frame_size``, ``state_machine``, ``streams``,
  ``encoder``, ``decoder``, ``config``, ``remote_settings``, ``open_outbound_streams``;
* its ``incoming_buffer`` (``h2.frame_buffer.FrameBuffer``): ``_headers_buffer`` (a
  pending CONTINUATION sequence), ``max_frame_size``, ``add_data``;
* ``h2.connection._decode_headers``, ``h2.connection.ConnectionInputs``,
  ``h2.connection.AllowedStreamIDs``;
* ``H2Stream``: ``state_machine`` (``state``, ``trailers_sent``, ``process_input``),
  ``receive_data``, ``receive_headers``, ``max_outbound_frame_size``, ``_authority``,
  ``request_method``; ``h2.stream.StreamState``, ``h2.stream.StreamInputs``;
* ``h2.utilities.authority_from_headers``, ``h2.utilities.extract_method_header``;
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
                                        events += self.state_machine.process_input(recv_data)
                                        self._inbound_flow_control_window_manager.window_consumed(
                                            length
                                        )
                                        frames, stream_events = stream.receive_data(
                                            data[start:end], bool(flags & _END_STREAM), length
                                        )
                                    except protocol_error as exc:
                                        self._terminate_connection(exc.error_code)
                                        raise
                                    if frames:  # pragma: no cover - h2 returns none
                                        self._prepare_for_sending(frames)
                                    events += stream_events
                                    continue
                            elif flags & (_END_HEADERS | _PADDED | _PRIORITY) == _END_HEADERS:
                                try:
                                    headers = decode_headers(self.decoder, data[start:end])
                                    events += self.state_machine.process_input(recv_headers)
                                    frames, stream_events = stream.receive_headers(
                                        headers,
                                        bool(flags & _END_STREAM),
                                        self.config.header_encoding,
                                    )
                                except protocol_error as exc:
                                    self._terminate_connection(exc.error_code)
                                    raise
                                if frames:  # pragma: no cover - h2 returns none
                                    self._prepare_for_sending(frames)
                                events += stream_events
                                continue
                    # Anything else: h2's own way, this frame alone.
                    events += base_receive(self, data[begin:end])
                    limit = self.max_inbound_frame_size
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
            self.state_machine.process_input(send_headers_input)
            stream = self._get_or_create_stream(stream_id, client_ids)
            machine = stream.state_machine
            machine.process_input(stream_send_headers)
            block = self.encoder.encode(headers)
            if end_stream:
                machine.process_input(stream_send_end)
            if machine.trailers_sent and not end_stream:  # pragma: no cover - a new stream
                raise protocol_error("Trailers must have END_STREAM set.")
            if stream._authority is None:
                stream._authority = authority_from_headers(headers)
            stream.request_method = extract_method_header(headers)
            self._data_to_send += header_block_frames(
                stream_id, block, stream.max_outbound_frame_size, end_stream
            )

    return FrameLaneConnection
