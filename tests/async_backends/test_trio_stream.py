"""TrioBackend's plain TCP stream: the OS socket directly, without a cancel scope per call.

Over a plain connection ``TrioStream.read`` and ``write`` try the non-blocking call
first and wait (under a cancel scope when a timeout is set) only when it would block.
These tests pin what that path must keep from ``trio.SocketStream``: checkpoints,
cancellation before any byte moves, partial sends, timeouts, and the error messages.
The peer is a real socket on 127.0.0.1 held by the test itself.

The last section pins the cancellation check and schedule point that path writes out
(``netbackend_trio._stream._trio_internals``) instead of calling trio's
``checkpoint_if_cancelled()`` and ``cancel_shielded_checkpoint()``, or calls them when the
installed trio is not written the way that copy expects: each test there runs in both
modes ("lean": the copy; "public": trio's functions) and must give the same answer: what
cancels, what counts as a checkpoint for ``trio.testing``, which calls let other tasks
run, what a pending KeyboardInterrupt does.
"""

from __future__ import annotations

import itertools
import signal
import socket
import struct
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from netbackend_base import ReadError, ReadTimeout, WriteError, WriteTimeout

if typing.TYPE_CHECKING:
    import netbackend_trio

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


@pytest.fixture(autouse=True)
def module(require: Callable[[str], types.ModuleType]) -> types.ModuleType:
    return require("netbackend_trio")


@pytest.fixture
def stream_module(module: types.ModuleType) -> types.ModuleType:
    import netbackend_trio._stream

    return netbackend_trio._stream


@pytest.fixture(params=["lean", "public"])
def mode(
    request: pytest.FixtureRequest,
    stream_module: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Run the test with the inline checks, then with trio's own functions."""
    import trio

    mode: str = request.param
    if mode == "public":
        monkeypatch.setattr(stream_module, "_run_context", None)
        monkeypatch.setattr(
            stream_module, "_schedule_point", trio.lowlevel.cancel_shielded_checkpoint
        )
    return mode


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    yield sock
    sock.close()


class Pair(typing.NamedTuple):
    stream: netbackend_trio.TrioStream
    peer: socket.socket  # the server's end, blocking


@pytest.fixture
async def pair(module: types.ModuleType, listener: socket.socket, mode: str) -> AsyncIterator[Pair]:
    """A connected stream and its peer, with the lean checks on or off (``mode``)."""
    port = listener.getsockname()[1]
    stream = await module.TrioBackend().connect_tcp("127.0.0.1", port)
    # The kernel finished the handshake before connect_tcp returned: accept() does not wait.
    peer, _ = listener.accept()
    try:
        yield Pair(stream, peer)
    finally:
        await stream.aclose()
        peer.close()


def count_scopes(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    import trio
    import trio.testing

    scopes: list[float] = []
    real = trio.move_on_after

    def counting(delay: float) -> typing.Any:
        scopes.append(delay)
        return real(delay)

    monkeypatch.setattr(trio, "move_on_after", counting)
    return scopes


async def wait_readable(stream: netbackend_trio.TrioStream) -> None:
    import trio
    import trio.testing

    await trio.lowlevel.wait_readable(stream.get_extra_info("socket"))


def small_send_buffer(sock: socket.socket) -> None:
    # Only the sender's buffer: shrinking a receive buffer after the handshake can stall
    # loopback TCP for good.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


async def test_ready_calls_open_no_cancel_scope_even_with_timeout(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write the socket takes at once and a read of data already there need no scope."""
    scopes = count_scopes(monkeypatch)
    await pair.stream.write(b"request", timeout=5)
    assert pair.peer.recv(100) == b"request"
    pair.peer.sendall(b"response")
    await wait_readable(pair.stream)
    assert await pair.stream.read(100, timeout=5) == b"response"
    assert scopes == []


async def test_read_that_waits_uses_one_scope_and_times_out(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes = count_scopes(monkeypatch)
    with pytest.raises(ReadTimeout, match=r"^no data received within 0\.05 seconds$"):
        await pair.stream.read(100, timeout=0.05)
    assert scopes == [0.05]


async def test_read_that_waits_gets_the_data() -> None:
    """A read that finds nothing waits for the data (no timeout: no scope at all)."""
    import trio
    import trio.testing

    import netbackend_trio

    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stream = await netbackend_trio.TrioBackend().connect_tcp("127.0.0.1", port)
    peer, _ = await listener.accept()
    try:
        got: list[bytes] = []
        async with trio.open_nursery() as nursery:

            async def reader() -> None:
                got.append(await stream.read(100))

            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []
            await peer.send(b"late")
        assert got == [b"late"]
    finally:
        await stream.aclose()
        peer.close()
        listener.close()


@pytest.mark.parametrize("timeout", [None, 30.0])
async def test_partial_send_sends_the_rest_in_order(pair: Pair, timeout: float | None) -> None:
    """A buffer larger than the socket takes at once is sent whole, in order."""
    import trio
    import trio.testing

    small_send_buffer(pair.stream.get_extra_info("socket"))
    data = b"".join(struct.pack(">I", i) for i in range(1 << 19))  # 2 MiB
    received = bytearray()

    def drain() -> None:
        while len(received) < len(data):
            chunk = pair.peer.recv(65536)
            assert chunk
            received.extend(chunk)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, drain)
        await pair.stream.write(data, timeout=timeout)
    assert received == data


async def test_bytearray_can_be_resized_after_a_partial_send(pair: Pair) -> None:
    import trio
    import trio.testing

    small_send_buffer(pair.stream.get_extra_info("socket"))
    data = bytearray(1 << 21)
    total = 0

    def drain() -> None:
        nonlocal total
        while total < len(data):
            chunk = pair.peer.recv(65536)
            assert chunk
            total += len(chunk)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, drain)
        # Typed bytes; any bytes-like object works, as with trio.SocketStream.
        await pair.stream.write(typing.cast(bytes, data))
    data.clear()  # BufferError if a view of it were still alive
    assert total == 1 << 21


async def test_write_timeout_when_the_peer_does_not_read(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_send_buffer(pair.stream.get_extra_info("socket"))
    scopes = count_scopes(monkeypatch)
    with pytest.raises(WriteTimeout, match=r"^could not send within 0\.1 seconds$"):
        await pair.stream.write(b"x" * (1 << 24), timeout=0.1)
    assert scopes == [0.1]


async def test_second_writer_while_one_waits_is_write_error(pair: Pair) -> None:
    """As with trio.SocketStream: a write while another waits to send is refused."""
    import trio
    import trio.testing

    small_send_buffer(pair.stream.get_extra_info("socket"))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pair.stream.write, b"x" * (1 << 24))
        await trio.testing.wait_all_tasks_blocked()
        busy = r"^BusyResourceError: another task is currently sending data on this SocketStream$"
        with pytest.raises(WriteError, match=busy):
            await pair.stream.write(b"y")
        nursery.cancel_scope.cancel()


async def test_cancelled_calls_move_no_bytes(pair: Pair) -> None:
    """Cancelled before the call: trio.Cancelled, and neither read nor write happened."""
    import trio
    import trio.testing

    pair.peer.sendall(b"waiting")
    await wait_readable(pair.stream)
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.read(100)
    assert scope.cancelled_caught
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.write(b"never", timeout=5)
    assert scope.cancelled_caught
    assert await pair.stream.read(100) == b"waiting"
    await pair.stream.write(b"sent")
    assert pair.peer.recv(100) == b"sent"


async def test_ready_calls_are_checkpoints(pair: Pair) -> None:
    """A write the socket takes at once is a full checkpoint; so is a read of data
    already there, unless the stream's last call was such a write (the next test)."""
    import trio
    import trio.testing

    with trio.testing.assert_checkpoints():
        await pair.stream.write(b"ping")
    assert pair.peer.recv(100) == b"ping"
    pair.peer.sendall(b"pong")
    await wait_readable(pair.stream)
    # Straight after the write: not a schedule point, but a cancel point, which
    # assert_no_checkpoints sees.
    with pytest.raises(AssertionError, match="yielded"), trio.testing.assert_no_checkpoints():
        assert await pair.stream.read(2) == b"po"
    with trio.testing.assert_checkpoints():
        assert await pair.stream.read(100) == b"ng"


class Reschedules:
    """Counts how often the current task is put back on trio's run queue (that is, how
    many schedule points it passes) while the block runs."""

    def __init__(self) -> None:
        import trio

        self.task = trio.lowlevel.current_task()
        self.count = 0

    def task_scheduled(self, task: object) -> None:
        if task is self.task:
            self.count += 1

    def __enter__(self) -> Reschedules:
        import trio

        trio.lowlevel.add_instrument(self)  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc_info: object) -> None:
        import trio

        trio.lowlevel.remove_instrument(self)  # type: ignore[arg-type]


async def answer(pair: Pair, request: bytes, response: bytes) -> None:
    """The peer takes ``request`` and sends ``response``; returns once it is readable."""
    assert pair.peer.recv(100) == request
    pair.peer.sendall(response)
    await wait_readable(pair.stream)


async def test_read_right_after_a_write_is_a_cancel_point_not_a_schedule_point(
    pair: Pair,
) -> None:
    """The response read straight after its request does not go through trio's
    scheduler a second time, and cancellation still stops it before any byte moves."""
    import trio

    await pair.stream.write(b"one")
    await answer(pair, b"one", b"first")
    with Reschedules() as reschedules:
        assert await pair.stream.read(100) == b"first"
    assert reschedules.count == 0
    # Still a cancel point: cancelled, it raises and leaves the data where it is.
    await pair.stream.write(b"two")
    await answer(pair, b"two", b"second")
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.read(100)
    assert scope.cancelled_caught
    # (and that read was the call that used up the write's schedule point)
    with Reschedules() as reschedules:
        assert await pair.stream.read(100) == b"second"
    assert reschedules.count == 1


@pytest.mark.parametrize(
    "calls",
    ["wrwr", "wrrr", "wwrr", "rrww", "wrwrrwwr"],
)
async def test_of_two_consecutive_calls_one_at_least_is_a_schedule_point(
    pair: Pair, calls: str
) -> None:
    """Of any two consecutive calls on the stream, at least one lets other tasks run:
    only a read whose stream's last call was a write that yielded skips its own."""
    pair.peer.sendall(b"x" * 100)  # (so that a read finds data before any write)
    await wait_readable(pair.stream)
    scheduled: list[bool] = []
    last = ""
    for call in calls:
        with Reschedules() as reschedules:
            if call == "w":
                await pair.stream.write(b"w")
            else:
                assert await pair.stream.read(1) == b"x"
        scheduled.append(reschedules.count > 0)
        assert scheduled[-1] == (call == "w" or last != "w"), (calls, scheduled)
        last = call
    assert all(a or b for a, b in itertools.pairwise(scheduled))


async def test_eof_and_zero_max_bytes(pair: Pair) -> None:
    with pytest.raises(ValueError, match="max_bytes must be >= 1"):
        await pair.stream.read(0)
    pair.peer.shutdown(socket.SHUT_WR)
    assert await pair.stream.read(100) == b""


async def test_zero_timeout_times_out_as_before(pair: Pair) -> None:
    """timeout=0 keeps trio's meaning: the deadline has passed before the call starts."""
    pair.peer.sendall(b"ready")
    await wait_readable(pair.stream)
    with pytest.raises(ReadTimeout):
        await pair.stream.read(100, timeout=0)
    with pytest.raises(WriteTimeout):
        await pair.stream.write(b"x", timeout=0)
    assert await pair.stream.read(100) == b"ready"


async def test_reset_by_peer_messages(pair: Pair) -> None:
    # SO_LINGER 0: close() sends RST.
    pair.peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pair.peer.close()
    await wait_readable(pair.stream)
    with pytest.raises(ReadError, match=r"^BrokenResourceError: socket connection broken: "):
        await pair.stream.read(100)


async def test_closed_stream_messages(pair: Pair) -> None:
    await pair.stream.aclose()
    with pytest.raises(ReadError, match=r"^ClosedResourceError: this socket was already closed$"):
        await pair.stream.read(100)
    with pytest.raises(WriteError, match=r"^ClosedResourceError: this socket was already closed$"):
        await pair.stream.write(b"x")


async def test_close_while_reading_wakes_the_reader(pair: Pair) -> None:
    import trio
    import trio.testing

    errors: list[BaseException] = []

    async def reader() -> None:
        try:
            await pair.stream.read(100, timeout=30)
        except ReadError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await pair.stream.aclose()
    assert len(errors) == 1
    assert str(errors[0]).startswith("ClosedResourceError: ")


async def test_two_readers_waiting_is_read_error(pair: Pair) -> None:
    import trio
    import trio.testing

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pair.stream.read, 100)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(ReadError, match=r"^BusyResourceError: "):
            await pair.stream.read(100)
        nursery.cancel_scope.cancel()


# -- the cancellation check and schedule point, written out or trio's --------------


def test_the_lean_checks_are_on_with_the_trio_we_test(stream_module: types.ModuleType) -> None:
    """The trio versions the test matrix installs are written as the inline copy expects."""
    assert stream_module._internals is not None, (
        "trio's checkpoint_if_cancelled / cancel_shielded_checkpoint / current_task changed: "
        "netbackend_trio._stream now uses the public functions (slower); review the copy"
    )
    assert stream_module._run_context is not None
    assert stream_module._schedule_point is stream_module._lean_schedule_point


@pytest.mark.parametrize(
    "name", ["current_task", "checkpoint_if_cancelled", "cancel_shielded_checkpoint"]
)
def test_a_trio_written_otherwise_gets_the_public_functions(
    stream_module: types.ModuleType, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Any of trio's three functions written in other terms turns the inline copy off."""
    import trio

    async def rewritten() -> None:
        await trio.lowlevel.checkpoint()

    assert stream_module._trio_internals() is not None
    monkeypatch.setattr(trio.lowlevel, name, rewritten)
    assert stream_module._trio_internals() is None


async def test_a_shield_inside_a_cancelled_scope_lets_them_run(pair: Pair) -> None:
    """A shielded scope is not cancelled by its cancelled parent: the calls proceed."""
    import trio

    pair.peer.sendall(b"data")
    await wait_readable(pair.stream)
    with trio.CancelScope() as outer:
        outer.cancel()
        with trio.CancelScope(shield=True):
            await pair.stream.write(b"sent")
            assert await pair.stream.read(100) == b"data"
    assert pair.peer.recv(100) == b"sent"


async def test_a_write_is_one_schedule_point(pair: Pair) -> None:
    """The write that the socket takes at once puts its task back on trio's run queue
    exactly once (trio's scheduler does it, as for cancel_shielded_checkpoint)."""
    with Reschedules() as reschedules:
        await pair.stream.write(b"x")
    assert reschedules.count == 1
    assert pair.peer.recv(100) == b"x"


def test_outside_a_trio_run_trio_says_so(
    module: types.ModuleType, mode: str, listener: socket.socket
) -> None:
    """Driven outside trio.run, read and write raise trio's RuntimeError, as before."""
    import trio

    async def connect() -> netbackend_trio.TrioStream:
        port = listener.getsockname()[1]
        stream: netbackend_trio.TrioStream = await module.TrioBackend().connect_tcp(
            "127.0.0.1", port
        )
        return stream

    stream = trio.run(connect)
    peer, _ = listener.accept()
    with peer, stream.get_extra_info("socket"):
        for call in (stream.read(100), stream.write(b"x")):
            with pytest.raises(RuntimeError, match="must be called from async context"):
                call.send(None)
            call.close()


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="trio handles Ctrl+C only when Python's default SIGINT handler is installed",
)
def test_pending_keyboard_interrupt_stops_a_call_in_the_main_task(
    module: types.ModuleType, mode: str, listener: socket.socket
) -> None:
    """A KeyboardInterrupt that arrived in KI-protected code is raised by the main task's
    next read, as by any trio cancel point, before it reads anything."""
    import trio

    left: list[bytes] = []

    @trio.lowlevel.enable_ki_protection
    def interrupted() -> None:
        signal.raise_signal(signal.SIGINT)  # (protected: trio only marks it pending)

    async def main() -> None:
        stream = await module.TrioBackend().connect_tcp("127.0.0.1", listener.getsockname()[1])
        peer, _ = listener.accept()
        try:
            peer.sendall(b"unread")
            await trio.lowlevel.wait_readable(stream.get_extra_info("socket"))
            interrupted()
            try:
                await stream.read(100)
            finally:
                with trio.CancelScope(shield=True):
                    left.append(await stream.read(100))
        finally:
            await stream.aclose()
            peer.close()

    with pytest.raises(KeyboardInterrupt):
        trio.run(main)
    assert left == [b"unread"]
