"""TrioStream's plain path checks for cancellation and passes its schedule points the way
trio's ``checkpoint_if_cancelled()`` and ``cancel_shielded_checkpoint()`` do, written out
(``netbackend_trio._stream._trio_internals``), or through those two functions when the
installed trio is not written the way that copy expects.

Each behaviour test runs in both modes ("lean": the inline copy; "public": trio's
functions) and must give the same answer: what cancels, what counts as a checkpoint for
``trio.testing``, which calls let other tasks run, what a pending KeyboardInterrupt does.
The peer is a real socket on 127.0.0.1 held by the test itself.
"""

from __future__ import annotations

import signal
import socket
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

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
    port = listener.getsockname()[1]
    stream = await module.TrioBackend().connect_tcp("127.0.0.1", port)
    peer, _ = listener.accept()
    try:
        yield Pair(stream, peer)
    finally:
        await stream.aclose()
        peer.close()


async def readable(pair: Pair) -> None:
    import trio

    await trio.lowlevel.wait_readable(pair.stream.get_extra_info("socket"))


class Reschedules:
    """Counts the schedule points the current task passes while the block runs."""

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


async def test_cancelled_read_and_write_move_no_bytes(pair: Pair) -> None:
    """In a cancelled scope both raise trio.Cancelled before touching the socket."""
    import trio

    pair.peer.sendall(b"waiting")
    await readable(pair)
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.read(100)
    assert scope.cancelled_caught
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.write(b"never")
    assert scope.cancelled_caught
    # The read straight after a write (no schedule point of its own) checks too.
    await pair.stream.write(b"request")
    assert pair.peer.recv(100) == b"request"
    with trio.CancelScope() as scope:
        scope.cancel()
        await pair.stream.read(100)
    assert scope.cancelled_caught
    assert await pair.stream.read(100) == b"waiting"
    pair.peer.setblocking(False)
    with pytest.raises(BlockingIOError):
        pair.peer.recv(100)  # "never" was not sent


async def test_a_shield_inside_a_cancelled_scope_lets_them_run(pair: Pair) -> None:
    """A shielded scope is not cancelled by its cancelled parent: the calls proceed."""
    import trio

    pair.peer.sendall(b"data")
    await readable(pair)
    with trio.CancelScope() as outer:
        outer.cancel()
        with trio.CancelScope(shield=True):
            await pair.stream.write(b"sent")
            assert await pair.stream.read(100) == b"data"
    assert pair.peer.recv(100) == b"sent"


async def test_checkpoints_as_trio_testing_counts_them(pair: Pair) -> None:
    """A write is a full checkpoint; a read right after it is a cancel point only."""
    import trio.testing

    with trio.testing.assert_checkpoints():
        await pair.stream.write(b"ping")
    assert pair.peer.recv(100) == b"ping"
    pair.peer.sendall(b"pong")
    await readable(pair)  # (a checkpoint of the test's own, not a call on the stream)
    # Not a schedule point, but a cancel point: assert_no_checkpoints sees it.
    with pytest.raises(AssertionError, match="yielded"), trio.testing.assert_no_checkpoints():
        assert await pair.stream.read(2) == b"po"
    with trio.testing.assert_checkpoints():
        assert await pair.stream.read(100) == b"ng"


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
