"""HTTP/2 on the blocking pool: the request writing for the whole connection is
interrupted (issue 13, the blocking twin of ``_async/test_http2_writer_cancel.py``).

Nothing cancels a blocking call, but a ``KeyboardInterrupt`` (or whatever a signal
handler or a trace hook raises: any ``BaseException``) can end a request at any
moment, also while it is the connection's writer, sending the frames of every stream.
What must happen then:

* Interrupted *between* two whole writes, the connection stays usable: the frames other
  requests queued meanwhile are still sent (by the interrupted request before it
  leaves, or by a request that takes the writing over from it), only the interrupted
  request's stream is reset, and the others carry on.
* Interrupted *in the middle of* a write, a frame may be half written: the connection is
  broken and closed. Requests none of whose frames were sent are replayed on another
  connection; those already under way fail with :class:`RemoteProtocolError`.
* Waiting for such a writer is bounded by the waiter's write timeout, and whoever is
  interrupted while waiting to take the writing over leaves it to the others.

The last tests are about the same writer and reader failing rather than being
interrupted: a request waiting while another reads or writes gets the right error (or
its own timeout), and a failed reset or GOAWAY write breaks the connection quietly.

The interruptions are injected where the interpreter itself would run a signal handler:
as the writer's thread enters its next Python function after a whole write, inside the
network stream's ``write`` for a cut write, or as a thread starts waiting on a lock
(see :func:`interrupt_at_next_call` and :func:`on_first_block`). Which thread is where
is made certain by gates in the network stream, never by sleeping.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import types
import typing
from collections.abc import Callable

import pytest

from httptransport import ConnectionPool, ReadTimeout, RemoteProtocolError, WriteTimeout
from netbackend_base import (
    BackendNotFoundError,
    NetworkBackend,
    NetworkStream,
    ReadError,
    WriteError,
    find_backend,
)

h2_settings = pytest.importorskip("h2.settings")

# The async twins' scaffolding: its constants, peer script and requests_and_resets.
if typing.TYPE_CHECKING:  # mypy's name for tests/httptransport/http2_gates.py
    from httptransport.http2_gates import CANCEL, EXT, UPLOAD, WIDE, requests_and_resets, script
else:  # loaded by path, under this name, by conftest.py
    from _httptransport_http2_gates import (
        CANCEL,
        EXT,
        UPLOAD,
        WIDE,
        requests_and_resets,
        script,
    )

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS = 0x1
_RST_STREAM = 0x3
_GOAWAY = 0x7
GUARD = 20.0  # how long a gate waits before it calls the test failed (never reached)


class Interrupted(BaseException):
    """What a signal handler raises in the tests below (not an ``Exception``: nothing
    on the way catches it as an error)."""


def interrupt_at_next_call(exc: BaseException) -> None:
    """Raise ``exc`` in this thread as it enters its next Python function: where a
    pending signal's handler would run (a ``KeyboardInterrupt``)."""

    def hook(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call":
            sys.setprofile(None)
            raise exc

    sys.setprofile(hook)


def on_first_block(callback: Callable[[], None]) -> None:
    """Call ``callback`` in this thread the first time it starts waiting on a threading
    condition (every blocking wait of the sync pool and connections is one), before it
    sleeps; an exception from ``callback`` is raised there, as from the wait."""
    wait = threading.Condition.wait.__code__

    def hook(frame: types.FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code is wait:
            sys.setprofile(None)
            callback()

    sys.setprofile(hook)


def frames(data: bytes) -> list[tuple[int, int]]:
    """The (type, stream id) of each frame in one write (h2 queues whole frames)."""
    position = len(_PREFACE) if data.startswith(_PREFACE) else 0
    found = []
    while position + 9 <= len(data):
        length = int.from_bytes(data[position : position + 3], "big")
        stream_id = int.from_bytes(data[position + 5 : position + 9], "big") & 0x7FFFFFFF
        found.append((data[position + 3], stream_id))
        position += 9 + length
    return found


WriteHandler = Callable[[bytes, Callable[[bytes], None]], None]


class Gate:
    """What the gated streams do: ``on_write[n]`` takes over the write that carries
    stream ``n``'s HEADERS (given the bytes and the real write), ``on_frame[(type, n)]``
    the one carrying such a frame; ``reading`` is set when a request starts reading the
    socket once ``watch_reads`` is set, and ``on_read`` runs (once) in place of the next
    read; ``closed`` is set when a connection's stream is closed."""

    def __init__(self) -> None:
        self.on_write: dict[int, WriteHandler] = {}
        self.on_frame: dict[tuple[int, int], WriteHandler] = {}
        self.on_read: Callable[[], bytes] | None = None
        self.watch_reads = False
        self.entered = threading.Event()  # set by a handler as it takes its write over
        self.reading = threading.Event()
        self.closed = threading.Event()
        self.streams: list[GatedStream] = []


class GatedStream(NetworkStream):
    def __init__(self, inner: NetworkStream, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate
        self.closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._gate.watch_reads:
            self._gate.watch_reads = False
            self._gate.reading.set()
        on_read, self._gate.on_read = self._gate.on_read, None
        if on_read is not None:
            return on_read()
        data = self._inner.read(max_bytes, timeout)
        if not data and self.closed:
            # Closed under a blocked read by our side, not by the peer: as the async
            # backends do, a read error (EOF would say the server hung up).
            raise ReadError("the stream was closed during the read")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        handler = None
        for kind, stream_id in frames(buffer):
            if kind == _HEADERS:
                handler = handler or self._gate.on_write.pop(stream_id, None)
            handler = handler or self._gate.on_frame.pop((kind, stream_id), None)
        if handler is None:
            self._inner.write(buffer, timeout)
        else:
            handler(buffer, lambda data: self._inner.write(data, timeout))

    def close(self) -> None:
        # Closing a socket ends a read or write blocked on it in another thread (the
        # connection counts on it): shut it down first, as closing alone does not do
        # that on Linux.
        self.closed = True
        self._gate.closed.set()
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._inner.close()

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GatedBackend(NetworkBackend):
    def __init__(self, inner: NetworkBackend, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Any = None,
    ) -> NetworkStream:
        stream = GatedStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options),
            self._gate,
        )
        self._gate.streams.append(stream)
        return stream

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class Worker:
    """A thread running ``fn``; ``outcome`` is what it returned or raised."""

    def __init__(self, fn: Callable[[], typing.Any]) -> None:
        self.outcome: typing.Any = None
        self.done = threading.Event()
        self._fn = fn
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.outcome = self._fn()
        except BaseException as exc:  # what the test asserts
            self.outcome = exc
        finally:
            self.done.set()

    def join(self) -> typing.Any:
        self._thread.join(GUARD)
        assert not self._thread.is_alive(), "a request thread never finished"
        return self.outcome


def wait(event: threading.Event) -> None:
    assert event.wait(GUARD), "a gate was never opened"


def start_writer(gate: Gate, fn: Callable[[], typing.Any]) -> Worker:
    """Run ``fn`` in a thread, and return once its write has reached the gate."""
    worker = Worker(fn)
    wait(gate.entered)
    return worker


@pytest.fixture
def setup(h2_peer: typing.Any) -> typing.Any:
    """A scripted peer, a gate and a pool of h2c connections to it through the gate."""
    try:
        inner = find_backend("sync")()
    except BackendNotFoundError as exc:  # pragma: no cover - every backend is installed
        pytest.skip(str(exc))
    peer = h2_peer(script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: WIDE})
    gate = Gate()
    pool = ConnectionPool(
        http1=False, http2=True, network_backend=GatedBackend(inner, gate), max_connections=2
    )
    with pool:
        # Stream 1: the connection is set up (SETTINGS exchanged) and idle.
        assert pool.request("GET", peer.url("/ok"), extensions=EXT).content == b"ok"
        yield peer, gate, pool


def assert_quiet(pool: ConnectionPool) -> None:
    """No request active or queued, no slot reserved by nobody, every connection idle."""
    logic = pool._logic
    assert (logic.active_requests, logic.queued_count) == (0, 0), repr(pool)
    assert logic.slot_count == len(pool.connections), "a slot is reserved by nobody"
    for connection in pool.connections:
        assert connection.is_idle(), connection.info()
        assert logic.in_use(connection) == 0, connection.info()


def request(pool: ConnectionPool, peer: typing.Any, path: str, **kwargs: typing.Any) -> bytes:
    kwargs.setdefault("extensions", EXT)
    return pool.request("POST" if "content" in kwargs else "GET", peer.url(path), **kwargs).content


def _held_then_interrupted(gate: Gate, exc: BaseException) -> WriteHandler:
    """The writer waits until another request reads the socket (its frames are queued
    by then), writes whole, and is interrupted before its next write."""

    def handler(data: bytes, write: Callable[[bytes], None]) -> None:
        gate.watch_reads = True
        gate.entered.set()
        wait(gate.reading)
        write(data)
        interrupt_at_next_call(exc)

    return handler


@pytest.mark.parametrize("interrupt", [Interrupted, KeyboardInterrupt])
def test_interrupted_between_writes_the_writer_sends_the_queue_and_leaves(
    setup: typing.Any, interrupt: type[BaseException]
) -> None:
    """T's request writes its HEADERS (stream 3); meanwhile the main thread's request
    queues its own (stream 5) for T to take along and reads the socket. T is
    interrupted after its write: it still sends stream 5's HEADERS, resets its own
    stream and raises; the main thread gets its response, the connection takes another
    request and the pool holds nothing for T."""
    peer, gate, pool = setup
    gate.on_write[3] = _held_then_interrupted(gate, interrupt("interrupted between writes"))
    writer = start_writer(gate, lambda: request(pool, peer, "/never"))
    assert request(pool, peer, "/held") == b"held"  # sent by T; answered once 3 is reset
    outcome = writer.join()
    assert isinstance(outcome, interrupt)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(pool.connections) == 1
    assert not gate.closed.is_set()
    assert_quiet(pool)
    assert requests_and_resets(peer) == ([1, 3, 5, 7], [(3, CANCEL)])


def test_interrupted_mid_write_closes_the_connection(setup: typing.Any) -> None:
    """The main thread holds a response whose body is still coming (stream 3). T's write
    (stream 5's HEADERS) is interrupted after its first bytes, while the main thread's
    next request (stream 7, queued behind T) reads the socket. The connection is broken
    and closed: the request whose frames never left is replayed on a new connection and
    succeeds, the body under way fails with RemoteProtocolError, T is interrupted."""
    peer, gate, pool = setup

    def cut(data: bytes, write: Callable[[bytes], None]) -> None:
        write(data[:5])  # part of a frame header
        gate.watch_reads = True
        gate.entered.set()
        wait(gate.reading)
        raise Interrupted("interrupted mid-write")

    with pool.stream("GET", peer.url("/partial"), extensions=EXT) as partial:
        assert partial.status == 200
        gate.on_write[5] = cut
        writer = start_writer(gate, lambda: request(pool, peer, "/never"))
        assert request(pool, peer, "/ok") == b"ok"  # replayed on a second connection
        assert isinstance(writer.join(), Interrupted)
        with pytest.raises(RemoteProtocolError, match="part-way through writing"):
            partial.read()
    first, second = gate.streams
    assert first.closed
    assert not second.closed
    assert len(pool.connections) == 1
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2
    assert requests_and_resets(peer, 0) == ([1, 3], [])  # stream 5's HEADERS: cut short
    assert requests_and_resets(peer, 1)[0] == [1, 3]


def _retiring_writer(gate: Gate, then: WriteHandler) -> None:
    """Stream 3's writer is interrupted after its write (once stream 5 is queued and
    read for); its next write, as it sends what is left (stream 5's HEADERS), is
    ``then``'s."""
    gate.on_write[3] = _held_then_interrupted(gate, Interrupted("interrupted"))
    gate.on_write[5] = then


def test_a_request_over_the_bound_takes_the_writing_over(setup: typing.Any) -> None:
    """While the interrupted writer T sends what was queued (stream 5's HEADERS), a
    request U uploads more than h2 may hold meanwhile: instead of waiting for T to take
    its frames, it waits to take the writing over. T hands it over after that write and
    leaves; U sends its body itself and gets its answer, on the same connection."""
    peer, gate, pool = setup
    uploader: list[Worker] = []

    def upload() -> bytes:
        on_first_block(waiting.set)
        try:
            return request(pool, peer, "/upload", content=b"u" * UPLOAD)
        finally:
            sys.setprofile(None)

    waiting = threading.Event()

    def until_u_waits(data: bytes, write: Callable[[bytes], None]) -> None:
        uploader.append(Worker(upload))  # stream 7
        wait(waiting)
        write(data)

    _retiring_writer(gate, until_u_waits)
    writer = start_writer(gate, lambda: request(pool, peer, "/never"))
    assert request(pool, peer, "/held") == b"held"
    assert isinstance(writer.join(), Interrupted)
    assert uploader[0].join() == str(UPLOAD).encode()
    assert request(pool, peer, "/ok") == b"ok"
    assert len(pool.connections) == 1
    assert not gate.closed.is_set()
    assert_quiet(pool)
    assert requests_and_resets(peer) == ([1, 3, 5, 7, 9], [(3, CANCEL)])


def test_a_request_waiting_to_take_over_is_interrupted(setup: typing.Any) -> None:
    """U waits to take the writing over from the interrupted writer T and is interrupted
    itself as it starts waiting: it resets its stream and leaves the writing to T, which
    sends everything queued (U's frames and reset too) before it leaves. The main
    thread's request gets its answer and the connection stays."""
    peer, gate, pool = setup
    uploader: list[Worker] = []

    def upload() -> bytes:
        def interrupt() -> None:
            raise Interrupted("interrupted while waiting to take over")

        on_first_block(interrupt)
        try:
            return request(pool, peer, "/upload", content=b"u" * UPLOAD)
        finally:
            sys.setprofile(None)

    def after_u_left(data: bytes, write: Callable[[bytes], None]) -> None:
        uploader.append(Worker(upload))  # stream 7
        uploader[0].join()
        write(data)

    _retiring_writer(gate, after_u_left)
    writer = start_writer(gate, lambda: request(pool, peer, "/never"))
    assert request(pool, peer, "/held") == b"held"
    assert isinstance(writer.join(), Interrupted)
    assert isinstance(uploader[0].join(), Interrupted)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(pool.connections) == 1
    assert not gate.closed.is_set()
    assert_quiet(pool)
    opened, resets = requests_and_resets(peer)
    assert opened == [1, 3, 5, 7, 9]
    assert sorted(resets) == [(3, CANCEL), (7, CANCEL)]


def test_giving_up_on_a_stuck_retiring_writer_closes_the_connection(setup: typing.Any) -> None:
    """T was interrupted and its next write (what was left, stream 5's HEADERS) never
    ends; U waits to take the writing over and gives up after its write timeout: the
    connection is closed, which ends T's write. U and the main thread's request (whose
    HEADERS were in that write) fail with the same WriteTimeout, T is interrupted, the
    pool holds nothing for any of them and the next request goes on a new connection."""
    peer, gate, pool = setup
    uploader: list[Worker] = []

    def stuck(data: bytes, write: Callable[[bytes], None]) -> None:
        timeouts = dict(EXT["timeout"], write=0.2)
        uploader.append(
            Worker(
                lambda: request(
                    pool, peer, "/upload", content=b"u" * UPLOAD, extensions={"timeout": timeouts}
                )
            )
        )
        wait(gate.closed)  # as a write blocked on a socket ends when it is closed
        raise WriteError("the stream was closed during the write")

    _retiring_writer(gate, stuck)
    writer = start_writer(gate, lambda: request(pool, peer, "/never"))
    with pytest.raises(WriteTimeout) as main_error:
        request(pool, peer, "/held")
    assert isinstance(writer.join(), Interrupted)
    assert uploader[0].join() is main_error.value
    assert gate.streams[0].closed
    assert pool.connections == []
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2


def test_a_lone_writer_interrupted_between_writes_just_leaves(setup: typing.Any) -> None:
    """The only request on the connection is interrupted after its HEADERS went out
    whole: nothing else is queued, so it gives the writing up, resets its stream and
    raises; the connection takes the next request."""
    peer, gate, pool = setup

    def interrupted_after(data: bytes, write: Callable[[bytes], None]) -> None:
        write(data)
        interrupt_at_next_call(Interrupted("interrupted after its only write"))

    gate.on_write[3] = interrupted_after
    with pytest.raises(Interrupted):
        request(pool, peer, "/never")
    assert request(pool, peer, "/ok") == b"ok"
    assert len(pool.connections) == 1
    assert not gate.closed.is_set()
    assert_quiet(pool)
    assert requests_and_resets(peer) == ([1, 3, 5], [(3, CANCEL)])


def test_giving_up_on_a_stuck_writer_ends_its_write(setup: typing.Any) -> None:
    """T's write never ends and T has no write timeout; the main thread's upload, more
    than h2 may hold while T writes, waits for T to take its frames and gives up after
    its own write timeout: the connection is closed, which ends T's write, and T's
    request fails with the same WriteTimeout instead of waiting for ever."""
    peer, gate, pool = setup

    def stuck(data: bytes, write: Callable[[bytes], None]) -> None:
        gate.entered.set()
        wait(gate.closed)  # as a write blocked on a socket ends when it is closed
        raise WriteError("the stream was closed during the write")

    gate.on_write[3] = stuck
    writer = start_writer(
        gate, lambda: request(pool, peer, "/never", extensions={"timeout": {"read": 10.0}})
    )
    timeouts = dict(EXT["timeout"], write=0.2)
    with pytest.raises(WriteTimeout) as error:
        request(pool, peer, "/upload", content=b"u" * UPLOAD, extensions={"timeout": timeouts})
    assert writer.join() is error.value
    assert gate.streams[0].closed
    assert pool.connections == []
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2


# -- around the writer and the reader: failures while others wait -----------------------


def test_a_request_waiting_while_another_reads_times_out_alone(setup: typing.Any) -> None:
    """The main thread's request waits for its response while another request (R) reads
    the socket for everyone; its read timeout passes first: ReadTimeout for it, its
    stream reset, and R, still reading, gets its own response."""
    peer, gate, pool = setup
    gate.watch_reads = True
    reader = Worker(lambda: request(pool, peer, "/held"))  # stream 3, the reader
    wait(gate.reading)
    with pytest.raises(ReadTimeout):
        request(pool, peer, "/never", extensions={"timeout": dict(EXT["timeout"], read=0.2)})
    assert reader.join() == b"held"  # answered once stream 5 was reset
    assert request(pool, peer, "/ok") == b"ok"
    assert len(pool.connections) == 1
    assert_quiet(pool)
    assert requests_and_resets(peer) == ([1, 3, 5, 7], [(5, CANCEL)])


def test_a_read_error_fails_every_request_on_the_connection(setup: typing.Any) -> None:
    """R reads for everyone; the main thread's request waits; the socket breaks under
    R's read: both fail with that ReadError, the connection is closed and dropped, and
    the next request goes on a new one."""
    peer, gate, pool = setup
    waiting = threading.Event()
    failure = ReadError("connection reset by peer")

    def broken_read() -> bytes:
        gate.reading.set()
        wait(waiting)
        raise failure

    gate.on_read = broken_read
    reader = Worker(lambda: request(pool, peer, "/held"))  # stream 3
    wait(gate.reading)
    on_first_block(waiting.set)  # the main thread, as it starts waiting for its response
    try:
        with pytest.raises(ReadError) as error:
            request(pool, peer, "/never")
    finally:
        sys.setprofile(None)
    assert error.value is failure
    assert reader.join() is failure
    assert gate.streams[0].closed
    assert pool.connections == []
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2


def _upload_behind_a_failing_writer(setup: typing.Any) -> tuple[typing.Any, typing.Any, Exception]:
    """T's write is held; the main thread's upload, more than h2 may hold meanwhile,
    waits for it; T's write then fails. Returns what the upload and T's request
    returned or raised, and T's write error."""
    peer, gate, pool = setup
    waiting = threading.Event()
    failure = WriteError("connection reset by peer")

    def fails(data: bytes, write: Callable[[bytes], None]) -> None:
        gate.entered.set()
        wait(waiting)
        raise failure

    gate.on_write[3] = fails
    writer = start_writer(gate, lambda: request(pool, peer, "/never"))
    on_first_block(waiting.set)
    try:
        upload: typing.Any = request(pool, peer, "/upload", content=b"u" * UPLOAD)
    except Exception as exc:
        upload = exc
    finally:
        sys.setprofile(None)
    return upload, writer.join(), failure


def test_a_failed_write_breaks_the_connection_under_a_waiting_upload(
    setup: typing.Any,
) -> None:
    """T's write fails while an upload waits behind it: T's request fails with that
    WriteError, the connection is closed and dropped, the upload does not hang, and the
    next request goes on a new connection."""
    peer, gate, pool = setup
    upload, writer, failure = _upload_behind_a_failing_writer(setup)
    assert writer is failure
    assert upload is failure or upload == str(UPLOAD).encode()  # see the test below
    assert gate.streams[0].closed
    # The pool keeps exactly the connections whose sockets are open (a replay's).
    assert len(pool.connections) == len([s for s in gate.streams if not s.closed])
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"


def test_an_upload_none_of_whose_frames_left_is_replayed_when_the_writer_fails(
    setup: typing.Any,
) -> None:
    """As the connection says of a failed write (``_broken``): streams none of whose
    frames were taken are refused, and the pool sends them elsewhere. The upload waiting
    behind the failed write never had a frame taken: it should be replayed on a new
    connection and succeed, as a request that was reading is (see the mid-write test)."""
    upload, _, _ = _upload_behind_a_failing_writer(setup)
    assert upload == str(UPLOAD).encode()


def test_a_read_woken_by_our_own_close_raises_the_connections_failure(
    setup: typing.Any,
) -> None:
    """R reads for everyone; the main thread's request fails to write its HEADERS,
    which breaks the connection and closes its socket. R's read then wakes with EOF
    (what a read blocked on a socket our side shut down returns): R raises the
    connection's failure, that WriteError, not "Server disconnected", since the server
    did not hang up; the connection is dropped and the next request gets a new one."""
    peer, gate, pool = setup
    failure = WriteError("connection reset by peer")

    def eof_once_closed() -> bytes:
        gate.reading.set()
        wait(gate.closed)
        return b""

    def fails(data: bytes, write: Callable[[bytes], None]) -> None:
        raise failure

    gate.on_read = eof_once_closed
    gate.on_write[5] = fails
    reader = Worker(lambda: request(pool, peer, "/held"))  # stream 3
    wait(gate.reading)
    with pytest.raises(WriteError) as error:
        request(pool, peer, "/never")  # stream 5: its HEADERS never leave
    assert error.value is failure
    assert reader.join() is failure
    assert gate.streams[0].closed
    assert pool.connections == []
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2


def test_a_reset_that_cannot_be_written_breaks_the_connection_quietly(
    setup: typing.Any,
) -> None:
    """A request times out and resets its stream; writing the RST_STREAM fails: the
    request still raises its own ReadTimeout, and the connection, whose socket failed,
    is closed and dropped."""
    peer, gate, pool = setup

    def fails(data: bytes, write: Callable[[bytes], None]) -> None:
        raise WriteError("connection reset by peer")

    gate.on_frame[(_RST_STREAM, 3)] = fails
    with pytest.raises(ReadTimeout):
        request(pool, peer, "/never", extensions={"timeout": dict(EXT["timeout"], read=0.2)})
    assert gate.streams[0].closed
    assert pool.connections == []
    assert_quiet(pool)
    assert request(pool, peer, "/ok") == b"ok"
    assert len(peer.connections) == 2


def test_closing_when_the_goaway_cannot_be_written(setup: typing.Any) -> None:
    """Closing the pool says GOAWAY first; when that write fails the connection is
    closed all the same, without an error."""
    _, gate, pool = setup
    attempted = threading.Event()

    def fails(data: bytes, write: Callable[[bytes], None]) -> None:
        attempted.set()
        raise WriteError("connection reset by peer")

    gate.on_frame[(_GOAWAY, 0)] = fails
    pool.close()
    assert attempted.is_set()
    assert gate.streams[0].closed
    assert pool.connections == []


def test_a_traced_request_interrupted_as_it_writes_reports_its_stream_closed(
    setup: typing.Any,
) -> None:
    """A traced request is interrupted after its HEADERS went out: the trace reports
    the sending as failed with the interruption, then the stream closed, as httpcore
    reports a request that fails before its response."""
    peer, gate, pool = setup
    events: list[tuple[str, dict[str, typing.Any]]] = []

    def interrupted_after(data: bytes, write: Callable[[bytes], None]) -> None:
        write(data)
        interrupt_at_next_call(Interrupted("interrupted after its only write"))

    gate.on_write[3] = interrupted_after
    with pytest.raises(Interrupted) as error:
        request(
            pool,
            peer,
            "/never",
            extensions=dict(EXT, trace=lambda name, info: events.append((name, info))),
        )
    names = [name for name, _ in events]
    assert names[-4:] == [
        "http2.send_request_headers.started",
        "http2.send_request_headers.failed",
        "http2.response_closed.started",
        "http2.response_closed.complete",
    ]
    assert events[-3][1] == {"exception": error.value}
    assert events[-2][1] == {"stream_id": 3}
    assert request(pool, peer, "/ok") == b"ok"
    assert_quiet(pool)
    assert requests_and_resets(peer) == ([1, 3, 5], [(3, CANCEL)])
