"""The asyncio stream of AnyIOBackend: its buffer, timers, write coalescing and edge cases.

On asyncio (and uvloop) AnyIOBackend drives sockets through its own asyncio protocol
(``netbackend_anyio._asyncio_stream``); these tests pin what the shared suites do not.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import ssl
import threading
import types
import typing
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from netbackend_base import AsyncNetworkStream, ConnectError, ReadError, WriteError

Handler = Callable[[socket.socket], None]

pytestmark = pytest.mark.anyio

_LOOPS = [pytest.param(("asyncio", {}), id="asyncio")]
if importlib.util.find_spec("uvloop") is not None:  # (not on every platform)
    _LOOPS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))


@pytest.fixture(params=_LOOPS)
def anyio_backend(request: pytest.FixtureRequest) -> typing.Any:
    return request.param


@pytest.fixture(autouse=True)
def module(require: Callable[[str], types.ModuleType]) -> types.ModuleType:
    """The module under test; every test here is skipped where netbackend-anyio is not
    installed (and fails where the matrix cell promised it)."""
    require("netbackend_anyio")
    import netbackend_anyio._asyncio_stream as module

    return module


async def _connect(port: int) -> AsyncNetworkStream:
    from netbackend_anyio import AnyIOBackend, AsyncioStream

    stream = await AnyIOBackend().connect_tcp("127.0.0.1", port, timeout=5)
    assert isinstance(stream, AsyncioStream)
    return stream


async def _read_exactly(stream: AsyncNetworkStream, size: int) -> bytes:
    parts = []
    while size > 0:
        data = await stream.read(min(size, 1 << 20), timeout=5)
        assert data, "EOF before the expected end"
        parts.append(data)
        size -= len(data)
    return b"".join(parts)


async def _turn() -> None:
    """Let the event loop run its ready callbacks and poll its sockets once."""
    await anyio.sleep(0)


async def test_a_reader_that_does_not_read_bounds_the_buffer(
    module: types.ModuleType, serve: Callable[[Handler], int]
) -> None:
    """Reading pauses once the buffer reaches its high-water mark, and the data stays intact."""
    # More than our buffer plus what loopback socket buffers can hold (a few MiB each).
    payload = hashlib.sha256(b"seed").digest() * (32 * 1024 * 1024 // 32)  # 32 MiB
    sent = threading.Event()

    def handler(conn: socket.socket) -> None:
        conn.sendall(payload)
        sent.set()
        conn.recv(1)  # until the client closes

    stream = await _connect(serve(handler))
    try:
        protocol = stream._protocol  # type: ignore[attr-defined]
        while not protocol._paused:  # the loop delivers chunks until the mark is reached
            await _turn()
        high_water = module._HIGH_WATER
        assert high_water <= protocol._buffered < high_water + module._MIN_ROOM
        assert not sent.is_set()  # the rest waits in the kernel, not in our buffer
        # The buffer grew no further than the mark let data in.
        assert len(protocol._buf) <= 2 * high_water
        assert await _read_exactly(stream, len(payload)) == payload
        assert not protocol._paused
    finally:
        await stream.aclose()


async def test_a_reader_that_does_not_read_bounds_the_buffer_over_tls(
    module: types.ModuleType,
    serve: Callable[[Handler], int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    """The same bound holds for decrypted data: reading pauses through the TLS transport."""
    payload = hashlib.sha256(b"tls").digest() * (32 * 1024 * 1024 // 32)  # 32 MiB
    sent = threading.Event()

    def handler(conn: socket.socket) -> None:
        with server_context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(payload)
            sent.set()
            tls.recv(1)

    plain = await _connect(serve(handler))
    stream = await plain.start_tls(client_context, "localhost", timeout=5)
    try:
        protocol = stream._protocol  # type: ignore[attr-defined]
        while not protocol._paused:
            await _turn()
        for _ in range(100):  # more turns: nothing resumes reading behind our back
            await _turn()
        assert protocol._paused
        assert not protocol._transport.is_reading()  # the TLS transport is the one paused
        # (Beyond the plain stream's bound: what the TLS layer handed over between the
        # handshake's end and start_tls's return, a _MIN_ROOM read at a time.)
        assert protocol._buffered < module._HIGH_WATER + 512 * 1024
        assert not sent.is_set()
        assert await _read_exactly(stream, len(payload)) == payload
    finally:
        await stream.aclose()


async def test_small_reads_of_large_chunks_return_bytes_in_order(
    module: types.ModuleType, serve: Callable[[Handler], int]
) -> None:
    """Reads smaller than what arrived at once take it piece by piece, as bytes, intact."""
    payload = hashlib.sha256(b"pieces").digest() * (module._HIGH_WATER * 3 // 4 // 32)

    def handler(conn: socket.socket) -> None:
        conn.sendall(payload)
        conn.recv(1)

    stream = await _connect(serve(handler))
    try:
        protocol = stream._protocol  # type: ignore[attr-defined]
        while protocol._buffered < len(payload):
            await _turn()
        pieces = []
        received = 0
        while received < len(payload):
            piece = await stream.read(1000, timeout=5)
            assert type(piece) is bytes
            assert 0 < len(piece) <= 1000
            pieces.append(piece)
            received += len(piece)
        assert b"".join(pieces) == payload
        assert protocol._buffered == 0
    finally:
        await stream.aclose()


async def test_writes_in_one_turn_arrive_in_order(serve: Callable[[Handler], int]) -> None:
    """Writes in one turn, one of them past the 64 KiB cork limit, arrive whole and in order."""
    from .conftest import upper_echo

    stream = await _connect(serve(upper_echo))
    try:
        pieces = [b"a", b"b", b"c" * 70_000, b"d", b"e" * 10]
        for piece in pieces:
            await stream.write(piece, timeout=5)
        expected = b"".join(pieces).upper()
        assert await _read_exactly(stream, len(expected)) == expected
    finally:
        await stream.aclose()


async def test_writes_just_before_close_are_sent(serve: Callable[[Handler], int]) -> None:
    """What was written in the turn that closes the stream still leaves."""
    received: list[bytes] = []
    done = threading.Event()

    def handler(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            received.append(data)
        done.set()

    stream = await _connect(serve(handler))
    await stream.write(b"first,", timeout=5)
    await stream.write(b"second", timeout=5)  # held for the end of the turn
    await stream.aclose()
    assert await anyio.to_thread.run_sync(done.wait, 5)
    assert b"".join(received) == b"first,second"


async def test_a_second_concurrent_reader_is_refused(silent_port: int) -> None:
    """Two tasks reading one stream at once: the second gets ReadError, the first reads on."""
    stream = await _connect(silent_port)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(stream.read, 10, 5)
            await _turn()
            with pytest.raises(ReadError, match="already reading"):
                await stream.read(10, timeout=5)
            assert stream._protocol._waiter is not None  # type: ignore[attr-defined]
            group.cancel_scope.cancel()
    finally:
        await stream.aclose()


async def test_reading_or_writing_a_closed_stream_fails(echo_port: int) -> None:
    """After aclose, read and write raise the network errors, never an asyncio one."""
    stream = await _connect(echo_port)
    await stream.aclose()
    with pytest.raises(ReadError):
        await stream.read(10, timeout=5)
    with pytest.raises(WriteError):
        await stream.write(b"x", timeout=5)
    await stream.aclose()  # a second close does nothing


async def test_closing_wakes_a_blocked_reader(silent_port: int) -> None:
    """A read waiting on a stream that another task closes ends in ReadError.

    The read is seen blocked (waiting on its future, the peer silent) before the close,
    and the error is the one for a close during the read, not the one a read started
    after the close gets; the read must end within seconds of the close, not hang."""
    stream = await _connect(silent_port)
    protocol = stream._protocol  # type: ignore[attr-defined]
    errors: list[ReadError] = []

    async def reader() -> None:
        try:
            await stream.read(10)
        except ReadError as exc:
            errors.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(reader)
            while protocol._waiter is None:  # until the read is blocked
                await _turn()
            assert errors == []
            await stream.aclose()
    assert [str(e) for e in errors] == ["the stream was closed while reading"]
    assert protocol._waiter is None


async def test_start_tls_over_unread_data_is_refused(
    serve: Callable[[Handler], int], client_context: ssl.SSLContext
) -> None:
    """Bytes already received before the handshake cannot be TLS: ConnectError, stream closed."""

    def handler(conn: socket.socket) -> None:
        conn.sendall(b"plain text")
        conn.recv(1)

    if not os.path.isdir("/proc/self/fd"):  # pragma: no cover - not Linux
        pytest.skip("needs /proc/self/fd")
    stream = await _connect(serve(handler))
    fd = stream.get_extra_info("socket").fileno()
    assert await stream.read(1, timeout=5) == b"p"
    with pytest.raises(ConnectError, match="before the TLS handshake"):
        await stream.start_tls(client_context, "localhost", timeout=5)
    with pytest.raises(ReadError):
        await stream.read(1, timeout=5)
    await _turn()  # (uvloop lets go of a socket one turn after the close)
    assert not os.path.exists(f"/proc/self/fd/{fd}")


async def test_tls_stream_readability(tls_echo_port: int, client_context: ssl.SSLContext) -> None:
    """A TLS stream is readable while decrypted data waits, and not once it is read."""
    plain = await _connect(tls_echo_port)
    stream = await plain.start_tls(client_context, "localhost", timeout=5)
    try:
        assert stream.get_extra_info("ssl_object") is not None
        await stream.write(b"tls", timeout=5)
        while not stream.get_extra_info("is_readable"):
            await _turn()
        assert await stream.read(10, timeout=5) == b"TLS"
        assert stream.get_extra_info("is_readable") is False
    finally:
        await stream.aclose()


class _LoopSpy:
    """Stands in for the stream's event loop, counting the timers and callbacks it is
    asked for (everything else goes to the real loop)."""

    def __init__(self, loop: typing.Any) -> None:
        self._loop = loop
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self._loop, name)

    def call_at(self, when: float, callback: typing.Any, *args: typing.Any) -> typing.Any:
        self.calls.append("call_at")
        return self._loop.call_at(when, callback, *args)

    def call_later(self, delay: float, callback: typing.Any, *args: typing.Any) -> typing.Any:
        self.calls.append("call_later")
        return self._loop.call_later(delay, callback, *args)

    def call_soon(self, callback: typing.Any, *args: typing.Any) -> typing.Any:
        self.calls.append("call_soon")
        return self._loop.call_soon(callback, *args)


def _spy(stream: AsyncNetworkStream) -> _LoopSpy:
    spy = _LoopSpy(stream._loop)  # type: ignore[attr-defined]
    stream._loop = spy  # type: ignore[attr-defined]
    return spy


async def test_a_read_that_need_not_wait_sets_no_timer(echo_port: int) -> None:
    """Data already buffered is returned without a timer, whatever the timeout."""
    stream = await _connect(echo_port)
    try:
        await stream.write(b"ping", timeout=5)
        protocol = stream._protocol  # type: ignore[attr-defined]
        while protocol._buffered < 4:
            await _turn()
        spy = _spy(stream)
        assert await stream.read(2, timeout=5) == b"PI"
        assert await stream.read(10, timeout=5) == b"NG"
        assert spy.calls == []
        assert stream._timer is None  # type: ignore[attr-defined]
    finally:
        await stream.aclose()


async def test_waiting_reads_with_a_timeout_share_one_timer(echo_port: int) -> None:
    """Round trips whose reads wait, each with the same timeout: one timer for them all."""
    stream = await _connect(echo_port)
    try:
        spy = _spy(stream)
        for i in range(50):
            message = b"request %d" % i
            await stream.write(message, timeout=5)
            assert stream._protocol._buffered == 0  # type: ignore[attr-defined]
            assert await _read_exactly(stream, len(message)) == message.upper()
        assert spy.calls == ["call_at"]  # armed by the first wait, kept since
        assert stream._timer is not None  # type: ignore[attr-defined]
    finally:
        await stream.aclose()
    assert stream._timer is None  # type: ignore[attr-defined]  # closing cancels it


async def test_a_shared_timer_still_times_each_read_out(silent_port: int) -> None:
    """The timer of an earlier read neither ends a later read too soon nor too late."""
    import time

    from netbackend_base import ReadTimeout

    stream = await _connect(silent_port)
    try:
        # A long deadline first: the timer is armed for it ...
        with anyio.move_on_after(0.05):
            await stream.read(10, timeout=30)
        # ... and a shorter one must not wait for it.
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await stream.read(10, timeout=0.2)
        assert 0.15 <= time.monotonic() - started < 5
        # The timer now fires before this deadline: it is re-armed, not taken for it.
        with anyio.move_on_after(0.01):
            await stream.read(10, timeout=0.1)  # arms the timer for +0.1 s
        started = time.monotonic()
        with pytest.raises(ReadTimeout):
            await stream.read(10, timeout=0.5)
        assert 0.45 <= time.monotonic() - started < 5
        # A read without a timeout is not ended by a timer left by an earlier one.
        with anyio.move_on_after(0.01):
            await stream.read(10, timeout=0.1)
        assert stream._timer is not None  # type: ignore[attr-defined]
        with anyio.move_on_after(0.3) as scope:
            await stream.read(10)
        assert scope.cancelled_caught
    finally:
        await stream.aclose()


async def test_writes_go_at_once_unless_another_task_reads(
    serve: Callable[[Handler], int],
) -> None:
    """A request/response user never pays for corking; writes of tasks sharing the stream
    while one of them reads leave together at the end of the turn, in order."""
    received = bytearray()
    done = threading.Event()

    def handler(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            received.extend(data)
            if received.endswith(b"."):
                conn.sendall(b"ok")
        done.set()

    stream = await _connect(serve(handler))
    protocol = stream._protocol  # type: ignore[attr-defined]
    sent: list[bytes] = []
    real = protocol._transport

    class Transport:
        def __getattr__(self, name: str) -> typing.Any:
            return getattr(real, name)

        def write(self, data: bytes) -> None:
            sent.append(bytes(data))
            real.write(data)

    protocol._transport = Transport()
    try:
        spy = _spy(stream)
        await stream.write(b"a", timeout=5)
        await stream.write(b"b", timeout=5)
        assert sent == [b"a", b"b"]
        assert spy.calls == []
        async with anyio.create_task_group() as group:
            group.start_soon(_read_exactly, stream, 2)
            while protocol._waiter is None:
                await _turn()
            sent.clear()
            for piece in (b"c", b"d", b"e", b"."):
                await stream.write(piece, timeout=5)
            assert sent == [b"c"]  # the first at once, the rest at the end of the turn
        assert sent == [b"c", b"de."]
    finally:
        await stream.aclose()
    assert await anyio.to_thread.run_sync(done.wait, 5)
    assert bytes(received) == b"abcde."


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
async def test_a_large_response_read_in_uneven_pieces_is_exact(
    tls: bool,
    serve: Callable[[Handler], int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    """8 MiB read with sizes from 1 byte to 200 KiB, while more arrives: byte-exact."""
    import random

    payload = random.Random(7).randbytes(8 * 1024 * 1024)

    def handler(conn: socket.socket) -> None:
        if tls:
            with server_context.wrap_socket(conn, server_side=True) as wrapped:
                wrapped.sendall(payload)
                wrapped.recv(1)
        else:
            conn.sendall(payload)
            conn.recv(1)

    stream = await _connect(serve(handler))
    if tls:
        stream = await stream.start_tls(client_context, "localhost", timeout=5)
    sizes = random.Random(3)
    try:
        pieces = []
        received = 0
        while received < len(payload):
            wanted = sizes.choice([1, 7, 1000, 16 * 1024, 65536, 200 * 1024])
            piece = await stream.read(wanted, timeout=5)
            assert type(piece) is bytes
            assert 0 < len(piece) <= wanted
            pieces.append(piece)
            received += len(piece)
        assert b"".join(pieces) == payload
    finally:
        await stream.aclose()


class _FlowTransport:
    """What the protocol alone asks of its transport: pausing and resuming reads."""

    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def test_the_buffer_keeps_data_exact_through_compaction_and_growth(
    module: types.ModuleType,
) -> None:
    """The protocol alone, fed as a transport feeds it: moving unread data to the front,
    growing, pausing at the high-water mark, resuming under the low one, shrinking."""
    import random

    protocol = module._Protocol()
    transport = _FlowTransport()
    protocol.connection_made(transport)
    rng = random.Random(11)
    source = rng.randbytes(6 * 1024 * 1024)
    fed = 0
    out = bytearray()

    def paused() -> bool:
        return transport.paused

    def feed(limit: int) -> None:
        nonlocal fed
        room = protocol.get_buffer(-1)
        assert len(room) >= module._MIN_ROOM
        count = min(len(room), len(source) - fed, limit)
        room[:count] = source[fed : fed + count]
        protocol.buffer_updated(count)
        fed += count

    # A slow reader: the buffer grows until reading pauses at the mark.
    while True:
        feed(rng.choice([100, 5000, 70000, 10**6]))
        if paused():
            break
        out += protocol.take(rng.choice([1, 999, 30000]))
    assert protocol._buffered >= module._HIGH_WATER
    grown = len(protocol._buf)
    assert module._HIGH_WATER <= grown <= 2 * module._HIGH_WATER
    # Reading resumes under the low-water mark, not before.
    while protocol._buffered > module._LOW_WATER + 65536:
        out += protocol.take(65536)
        assert paused()
    out += protocol.take(65536)
    out += protocol.take(65536)
    assert not paused()
    # Feeds and reads of all sizes (unread data moved to the front, byte-exact).
    while fed < len(source):
        if not paused():
            feed(rng.choice([100, 5000, 70000, 10**6]))
        for _ in range(rng.choice([1, 2, 3])):
            if protocol._buffered:
                out += protocol.take(rng.choice([1, 999, 30000, 65536, 10**6]))
    while protocol._buffered:
        out += protocol.take(10**6)
    assert bytes(out) == source
    # A large buffer goes once a read empties it after holding little since the last empty.
    feed(10**6)
    protocol.take(10**6)
    if len(protocol._buf) > module._BULK:
        room = protocol.get_buffer(-1)
        room[:5] = b"small"
        protocol.buffer_updated(5)
        assert protocol.take(65536) == b"small"
    assert len(protocol._buf) == module._BULK


@pytest.mark.parametrize("first", [1, 4096, 10_000, 16_383])
def test_a_transport_that_fills_all_it_is_offered_stops_near_the_mark(
    module: types.ModuleType, first: int
) -> None:
    """However the reads before it fell, one read that fills all the room it is offered
    (as uvloop's do) leaves less than ``_HIGH_WATER + _MIN_ROOM`` unread."""

    protocol = module._Protocol()
    transport = _FlowTransport()
    protocol.connection_made(transport)
    reads = 0
    while not transport.paused:
        room = protocol.get_buffer(-1)
        # Reads of `first` bytes until less than _MIN_ROOM is left below the mark (the
        # buffer's tail is then shorter than _MIN_ROOM), then a read that fills everything.
        near = protocol._buffered > module._HIGH_WATER - module._MIN_ROOM
        count = len(room) if near else min(len(room), first)
        room[:count] = b"x" * count
        protocol.buffer_updated(count)
        reads += 1
        assert protocol._buffered < module._HIGH_WATER + module._MIN_ROOM
        assert len(protocol._buf) <= 2 * module._HIGH_WATER
    assert protocol._buffered >= module._HIGH_WATER
    assert reads > 1


def test_a_mark_reached_during_the_tls_handshake_pauses_the_tls_transport(
    module: types.ModuleType,
) -> None:
    """Data the TLS layer hands over before start_tls returns may reach the mark: the
    socket's transport (the TLS layer's to pause) is left alone, and the TLS transport
    is paused once start_tls hands it over."""

    protocol = module._Protocol()
    socket_transport, tls_transport = _FlowTransport(), _FlowTransport()
    protocol.connection_made(socket_transport)
    protocol._handshaking = True  # (what start_tls sets before the loop's start_tls)
    while not protocol._paused:
        room = protocol.get_buffer(-1)
        protocol.buffer_updated(len(room))

    def states() -> tuple[bool, bool]:
        return socket_transport.paused, tls_transport.paused

    assert states() == (False, False)
    protocol.tls_started(tls_transport)
    assert states() == (False, True)
    assert protocol._tls
    # Reading resumes the TLS transport, never the socket's.
    while protocol._buffered:
        protocol.take(65536)
    assert states() == (False, False)
