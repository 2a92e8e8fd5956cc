"""SyncStream over plain sockets: reads, writes, timeouts, readability, errors, close."""

from __future__ import annotations

import os
import platform
import select
import socket
import struct
import threading
import time
import typing
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("netbackend_sync")

import netbackend_sync
from netbackend_base import ReadError, ReadTimeout, WriteError, WriteTimeout
from netbackend_sync import SyncBackend, SyncStream

Factory = Callable[..., typing.Any]


class CountingSocket(socket.socket):
    """A socket that counts its ``settimeout`` calls."""

    settimeout_calls = 0

    def settimeout(self, value: float | None) -> None:
        self.settimeout_calls += 1
        super().settimeout(value)


@pytest.fixture
def pair() -> Iterator[tuple[SyncStream, socket.socket]]:
    """A SyncStream on one end of a socket pair, and the raw other end."""
    ours, theirs = socket.socketpair()
    stream = SyncStream(CountingSocket(fileno=ours.detach()))
    yield stream, theirs
    stream.close()
    theirs.close()


def test_public_names() -> None:
    """The package exports exactly the names in its __all__."""
    # ``annotations`` is the __future__ feature flag, not an export.
    public = {name for name in vars(netbackend_sync) if not name.startswith("_")} - {"annotations"}
    assert set(netbackend_sync.__all__) - {"__version__"} == public
    assert isinstance(netbackend_sync.__all__, tuple)


def test_read_returns_available_bytes_then_eof(pair: tuple[SyncStream, socket.socket]) -> None:
    """read returns what arrived (up to max_bytes) and b"" once the peer has closed."""
    stream, peer = pair
    peer.sendall(b"hello world")
    assert stream.read(5) == b"hello"
    assert stream.read(100) == b" world"
    peer.close()
    assert stream.read(100) == b""


def _written_while_peer_reads(stream: SyncStream, peer: socket.socket, payload: bytes) -> bytes:
    """Write ``payload`` with a timeout while a thread reads the other end; what it got."""
    received = bytearray()

    def drain() -> None:
        while len(received) < len(payload):
            chunk = peer.recv(1 << 16)
            if not chunk:
                break
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    stream.write(payload, timeout=10)
    reader.join(10)
    return bytes(received)


def test_write_sends_everything(pair: tuple[SyncStream, socket.socket]) -> None:
    """write sends the whole buffer, larger than the socket buffers, and b"" is a no-op."""
    stream, peer = pair
    payload = bytes(range(256)) * 8192  # 2 MiB
    stream.write(b"")
    assert _written_while_peer_reads(stream, peer, payload) == payload


def test_reads_and_writes_never_change_the_socket_timeout(
    pair: tuple[SyncStream, socket.socket],
) -> None:
    """Timeouts never touch the socket's own timeout, shared state a concurrent call would see."""
    stream, peer = pair
    sock = stream.get_extra_info("socket")
    before = sock.settimeout_calls
    for timeout in (2.0, None, 0.5):
        stream.write(b"x", timeout=timeout)
        assert peer.recv(1) == b"x"
        peer.sendall(b"y")
        assert stream.read(1, timeout=timeout) == b"y"
    assert sock.settimeout_calls == before
    assert sock.gettimeout() is None


def test_read_timeout(pair: tuple[SyncStream, socket.socket]) -> None:
    """A read that gets nothing within its timeout raises ReadTimeout."""
    stream, _peer = pair
    with pytest.raises(ReadTimeout):
        stream.read(10, timeout=0.05)


def test_zero_or_negative_timeout_is_an_immediate_timeout(
    pair: tuple[SyncStream, socket.socket],
) -> None:
    """A timeout of 0 (or a deadline already past) raises ReadTimeout, not ReadError."""
    stream, _peer = pair
    with pytest.raises(ReadTimeout):
        stream.read(10, timeout=0)
    with pytest.raises(ReadTimeout):
        stream.read(10, timeout=-1)


def test_write_timeout() -> None:
    """A peer that never reads makes a large write raise WriteTimeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    small = [(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)]
    stream = SyncBackend().connect_tcp("127.0.0.1", listener.getsockname()[1], socket_options=small)
    conn, _ = listener.accept()  # accepted but never read
    try:
        with pytest.raises(WriteTimeout):
            stream.write(b"x" * (16 << 20), timeout=0.1)
    finally:
        stream.close()
        conn.close()
        listener.close()


def test_timeouts_without_select_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``select.poll`` is missing (Windows), reads and writes with a timeout wait in
    ``select.select``: timeouts still fire, and a slow reader still gets everything."""
    monkeypatch.delattr(select, "poll")
    ours, peer = socket.socketpair()
    stream = SyncStream(ours)
    try:
        with pytest.raises(ReadTimeout):
            stream.read(10, timeout=0.05)
        peer.sendall(b"hi")
        assert stream.read(10, timeout=5) == b"hi"

        payload = bytes(range(256)) * 16384  # 4 MiB, more than the socket buffers hold
        assert _written_while_peer_reads(stream, peer, payload) == payload

        with pytest.raises(WriteTimeout):
            stream.write(payload, timeout=0.05)  # nobody reads now
    finally:
        stream.close()
        peer.close()


def test_read_after_reset_is_a_read_error() -> None:
    """A connection reset by the peer raises ReadError."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        stream = SyncBackend().connect_tcp("127.0.0.1", listener.getsockname()[1])
        conn, _ = listener.accept()
    try:
        # Linger 0 makes close() send RST instead of FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        with pytest.raises(ReadError, match="ConnectionResetError"):
            stream.read(10, timeout=5)
    finally:
        stream.close()


def test_write_after_peer_closed_is_a_write_error(pair: tuple[SyncStream, socket.socket]) -> None:
    """Writing to a socket whose peer is gone raises WriteError."""
    stream, peer = pair
    peer.close()
    with pytest.raises(WriteError):
        stream.write(b"x", timeout=1)


def test_close_is_idempotent_and_later_io_fails(pair: tuple[SyncStream, socket.socket]) -> None:
    """close twice never raises; read and write afterwards raise ReadError/WriteError."""
    stream, _peer = pair
    stream.close()
    stream.close()
    with pytest.raises(ReadError):
        stream.read(10)
    with pytest.raises(WriteError):
        stream.write(b"x")


def test_is_readable(pair: tuple[SyncStream, socket.socket]) -> None:
    """is_readable is False while idle, True with data waiting, and True after the peer closes."""
    stream, peer = pair
    assert stream.get_extra_info("is_readable") is False
    peer.sendall(b"x")
    assert stream.get_extra_info("is_readable") is True
    assert stream.read(1) == b"x"
    assert stream.get_extra_info("is_readable") is False
    peer.close()
    assert stream.get_extra_info("is_readable") is True


def test_extra_info_of_a_tcp_stream(start_server: Factory) -> None:
    """client_addr/server_addr are (host, port) pairs, ssl_object is None, unknown keys None."""
    server = start_server(host="::1")
    stream = SyncBackend().connect_tcp("::1", server.port)
    try:
        assert stream.get_extra_info("server_addr") == ("::1", server.port)
        assert len(stream.get_extra_info("client_addr")) == 2
        assert stream.get_extra_info("ssl_object") is None
        assert isinstance(stream.get_extra_info("socket"), socket.socket)
        assert stream.get_extra_info("no such key") is None
    finally:
        stream.close()


# The system calls a thread blocked in ``recv`` or ``sendall`` sits in, by machine.
_BLOCKING_CALLS = {"x86_64": {"recv": 45, "send": 44}, "aarch64": {"recv": 207, "send": 206}}


def _wait_until_blocked_in(thread: threading.Thread, call: str) -> None:
    """Return once ``thread`` is blocked in the kernel in ``call`` (Linux: the thread's
    current system call, from /proc), or skip where that cannot be seen."""
    numbers = _BLOCKING_CALLS.get(platform.machine())
    path = f"/proc/self/task/{thread.native_id}/syscall"
    if numbers is None or not os.path.exists(path):
        pytest.skip("needs Linux /proc to see where a thread is blocked")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(path) as file:
            fields = file.read().split()
        if fields and fields[0] == str(numbers[call]):
            return
        select.select([], [], [], 0.001)
    pytest.fail(f"the thread never blocked in {call}")


@pytest.mark.parametrize("family", ["unix", "tcp"])
def test_close_from_another_thread_ends_a_blocked_read(family: str) -> None:
    """A read blocked with no timeout ends (EOF or ReadError) as soon as another thread
    closes the stream: HTTP/2 closes a failed connection to wake its reader."""
    if family == "unix":
        ours, theirs = socket.socketpair()
    else:
        listener = socket.create_server(("127.0.0.1", 0))
        ours = socket.create_connection(listener.getsockname())
        theirs, _ = listener.accept()
        listener.close()
    stream = SyncStream(ours)
    outcome: list[object] = []

    def reader() -> None:
        try:
            outcome.append(stream.read(10))
        except ReadError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        _wait_until_blocked_in(thread, "recv")
        stream.close()
        thread.join(5)
        assert not thread.is_alive(), "the blocked read did not end on close"
        (result,) = outcome
        assert result == b"" or isinstance(result, ReadError)
    finally:
        stream.close()
        theirs.close()


def test_close_from_another_thread_ends_a_blocked_write() -> None:
    """A write blocked with no timeout (the peer reads nothing) ends with WriteError as
    soon as another thread closes the stream."""
    ours, theirs = socket.socketpair()
    stream = SyncStream(ours)
    outcome: list[object] = []

    def writer() -> None:
        try:
            stream.write(b"x" * (16 * 1024 * 1024))
            outcome.append("sent")
        except WriteError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        _wait_until_blocked_in(thread, "send")
        stream.close()
        thread.join(5)
        assert not thread.is_alive(), "the blocked write did not end on close"
        (result,) = outcome
        assert isinstance(result, WriteError)
    finally:
        stream.close()
        theirs.close()
