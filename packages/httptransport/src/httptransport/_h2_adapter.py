"""h2, imported when first needed and adapted to how we use it (no I/O).

h2 is an optional dependency (the ``http2`` extra), so nothing here imports it at
module level: :func:`import_h2` does, once, and binds what the HTTP/2 connection needs
from it onto :class:`H2`. Four adaptations are made to h2's connection:

* our HPACK decoder and encoder (:class:`~httptransport._hpack.CachingDecoder`,
  :class:`~httptransport._hpack.CachingEncoder`) replace h2's;
* the count of open outbound streams, which h2 recomputes over every stream each time
  HEADERS open one, is computed only every 64th time (see :func:`_client_connection`);
* a received GOAWAY leaves the connection open for the streams the server still
  answers (see :func:`_draining_state_machine`);
* the frames of every request (HEADERS out, HEADERS and DATA in) are read and written
  without h2's frame objects (:mod:`._h2_frames`), on the h2 releases that lane was
  checked against (:func:`~._h2_frames.lane_supported`); h2 still keeps all the state.

Shared as is by the async and the sync connection (it is not generated).
"""

from __future__ import annotations

import typing

from ._h2_frames import frame_lane, lane_supported

__all__ = (
    "CONNECTION_WINDOW",
    "DEFAULT_WINDOW",
    "H2",
    "INSTALL_HINT",
    "MAX_CONCURRENT_STREAMS",
    "MAX_OUTBOUND_BACKLOG",
    "STREAM_WINDOW",
    "import_h2",
    "new_client_connection",
    "outbound_backlog",
)

INSTALL_HINT = "HTTP/2 needs the h2 package: pip install httptransport[http2]"

# The initial flow-control window of a connection and of each stream before SETTINGS
# change it (RFC 9113 section 6.9.2).
DEFAULT_WINDOW = 65_535
# Our receive windows: how much the server may send before we acknowledge it. A stream
# whose reader is slow buffers at most STREAM_WINDOW bytes here.
STREAM_WINDOW = 1024 * 1024
CONNECTION_WINDOW = 16 * 1024 * 1024
# SETTINGS_MAX_CONCURRENT_STREAMS we announce (server push is off, so it only bounds
# what the server could open towards us: nothing).
MAX_CONCURRENT_STREAMS = 100

# How often (in streams opened) h2 is let count its open streams; see _client_connection.
_COUNT_STREAMS_EVERY = 64

_h2: typing.Any = None


def import_h2() -> typing.Any:
    """Import h2 (once) and return its ``h2.connection`` module.

    Raises:
        ImportError: h2 is not installed; the message names the extra to install.
    """
    global _h2
    if _h2 is None:
        try:
            import h2.config
            import h2.connection
            import h2.events
            import h2.exceptions
            import h2.settings
            import h2.stream
            import h2.utilities
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        _h2 = h2
        H2.bind(h2)
    return _h2.connection


# The most bytes h2 may hold queued for the socket while a write is in progress: past
# it, the request reading the socket stops reading (the server's PINGs and SETTINGS
# would queue acknowledgements without end while our writes are stuck) and requests
# sending bodies wait for the writer. A body goes into the queue this much at a time.
MAX_OUTBOUND_BACKLOG = 256 * 1024

# How many closed streams h2 remembers the ending of (to tell a late frame on a stream
# we reset, a stream error, from one on a stream that ended, a connection error). h2
# keeps 65,536 per connection, about 6.5 MB of records on a long-lived connection; a
# server is never thousands of streams behind in reading our RST_STREAM frames.
CLOSED_STREAMS_KEPT = 4096


def outbound_backlog(conn: typing.Any) -> int:
    """How many bytes ``conn`` (an ``H2Connection``) has queued to send.

    h2 keeps them in a private ``bytearray`` and offers no public size; every h2
    release we support (4.1 to 4.4) names it ``_data_to_send``.
    """
    return len(conn._data_to_send)


def new_client_connection(*, lane: bool = True) -> typing.Any:
    """A new client-side ``h2.connection.H2Connection`` configured as we use it.

    Outgoing and incoming headers are checked by :mod:`._h2_headers` instead of h2's
    generic passes (cheaper: h2's was the largest cost of a request after HPACK);
    server push is refused and our stream window is :data:`STREAM_WINDOW`. Without
    ``lane`` (for the tests comparing the two) the connection has no frame lane
    (:mod:`._h2_frames`).

    Raises:
        ImportError: h2 is not installed.
    """
    import_h2()
    h2 = _h2
    config = h2.config.H2Configuration(
        client_side=True,
        header_encoding=None,
        validate_outbound_headers=False,
        normalize_outbound_headers=False,
        validate_inbound_headers=False,
        normalize_inbound_headers=False,
    )
    conn = (H2.connection if lane else H2.plain_connection)(config=config)
    conn.state_machine = H2.machine()
    codes = h2.settings.SettingCodes
    conn.local_settings = h2.settings.Settings(
        client=True,
        initial_values={
            codes.ENABLE_PUSH: 0,
            codes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
            codes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
        },
    )
    return conn


def _client_connection(module: typing.Any) -> typing.Any:
    """h2's connection, with our HPACK decoder and minus a scan of every stream each time
    a request starts.

    The decoder (:class:`~httptransport._hpack.CachingDecoder`) remembers Huffman-decoded
    header values, the largest cost of a response in h2's own; the encoder
    (:class:`~httptransport._hpack.CachingEncoder`) remembers the header blocks of
    requests sent again while its dynamic table is unchanged.

    h2 counts the open outbound streams (visiting all of them) whenever HEADERS open a
    stream, to enforce SETTINGS_MAX_CONCURRENT_STREAMS. We enforce that limit ourselves
    before opening a stream (the connection's ``_open_stream``: our streams include
    every stream h2 still has open), so h2's count is only needed for the clean-up of
    closed streams it does on the way, which is done every 64 streams instead.
    """
    # Imported here, with h2: hpack is h2's dependency, not ours.
    from ._hpack import CachingDecoder, CachingEncoder

    base = module.H2Connection

    class ClientConnection(base):  # type: ignore[misc,valid-type]
        MAX_CLOSED_STREAMS = CLOSED_STREAMS_KEPT
        _countdown = 0
        decoder: typing.Any
        # (For the frame lane: the encoder class whose blocks it may remember.)
        caching_encoder = CachingEncoder

        def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
            super().__init__(*args, **kwargs)
            decoder = CachingDecoder()
            decoder.max_header_list_size = self.decoder.max_header_list_size
            self.decoder = decoder
            self.encoder = CachingEncoder()

        @property
        def open_outbound_streams(self) -> int:
            self._countdown -= 1
            if self._countdown <= 0:
                self._countdown = _COUNT_STREAMS_EVERY
                return int(base.open_outbound_streams.fget(self))
            return 0

    return ClientConnection


def _draining_state_machine(module: typing.Any) -> typing.Any:
    """h2's connection state machine, except that a received GOAWAY leaves it open.

    h2 treats GOAWAY as the end of everything and rejects every later frame, but the
    streams at or below ``last_stream_id`` are still being answered (RFC 9113 section
    6.8). We keep receiving (and sending WINDOW_UPDATE, RST_STREAM) for them, and refuse
    new streams ourselves.

    h2 offers no hook for this: its transition table (``_transitions``, a private
    attribute) is copied with the two GOAWAY transitions changed.
    """
    base = module.H2ConnectionStateMachine
    states = module.ConnectionState
    inputs = module.ConnectionInputs
    transitions = dict(base._transitions)
    transitions[(states.CLIENT_OPEN, inputs.RECV_GOAWAY)] = (None, states.CLIENT_OPEN)
    transitions[(states.IDLE, inputs.RECV_GOAWAY)] = (None, states.CLIENT_OPEN)
    return type("DrainingStateMachine", (base,), {"_transitions": transitions})


class H2:
    """What the HTTP/2 connection uses of h2, bound once h2 is imported (it is optional).

    Event classes, exception classes, hpack's never-indexed tuple, and our adapted
    connection and state machine classes: ``connection`` has the frame lane of
    :mod:`._h2_frames` when this h2 release supports it, ``plain_connection`` never.
    """

    response: typing.Any = None
    data: typing.Any = None
    ended: typing.Any = None
    reset: typing.Any = None
    trailers: typing.Any = None
    window: typing.Any = None
    settings: typing.Any = None
    terminated: typing.Any = None
    ping_ack: typing.Any = None
    h2_error: type[Exception] = Exception
    machine: typing.Any = None
    never_indexed: typing.Any = None
    connection: typing.Any = None
    plain_connection: typing.Any = None
    lane: bool = False

    @classmethod
    def bind(cls, h2: typing.Any) -> None:
        events = h2.events
        cls.response = events.ResponseReceived
        cls.data = events.DataReceived
        cls.ended = events.StreamEnded
        cls.reset = events.StreamReset
        cls.trailers = events.TrailersReceived
        cls.window = events.WindowUpdated
        cls.settings = events.RemoteSettingsChanged
        cls.terminated = events.ConnectionTerminated
        cls.ping_ack = events.PingAckReceived
        cls.h2_error = h2.exceptions.H2Error
        # hpack's tuple type, as h2 re-exports it (hpack is h2's dependency, not ours).
        cls.never_indexed = h2.utilities.NeverIndexedHeaderTuple
        cls.machine = _draining_state_machine(h2.connection)
        cls.plain_connection = _client_connection(h2.connection)
        cls.lane = lane_supported(h2)
        cls.connection = frame_lane(cls.plain_connection, h2) if cls.lane else cls.plain_connection
