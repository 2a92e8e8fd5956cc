"""AsyncFaultyBackend and AsyncFaultyStream on asyncio and trio: the sync tests' twins.

Tests taking ``target`` run twice per event loop: over an AsyncMockBackend whose script
is ``PAYLOAD``, and over the installed backend for the loop connected to a loopback echo
server, so "write PAYLOAD, read it back" gives the same bytes either way. Latencies are
checked in the mock's record of sleeps, and only bounded from below in real time.
"""

from __future__ import annotations

import dataclasses
import ssl
import time
import typing

import anyio
import pytest

from netbackend_base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from netbackend_mock import (
    AsyncFaultyBackend,
    AsyncFaultyStream,
    AsyncMockBackend,
    AsyncMockStream,
    ConnectionFaults,
    FaultEvent,
    FaultRates,
    Faults,
    StallLimitExceeded,
)

if typing.TYPE_CHECKING:
    from conformance.servers import ThreadedServer

pytestmark = pytest.mark.anyio

PAYLOAD = bytes(range(256)) * 4


@dataclasses.dataclass
class Target:
    """Makes a backend to wrap (inside the test's loop) and says where to connect it."""

    make: typing.Callable[[], AsyncNetworkBackend]
    host: str
    port: int
    server: ThreadedServer | None = None

    def faulty(self, **faults: typing.Any) -> AsyncFaultyBackend:
        return AsyncFaultyBackend(self.make(), Faults(default=ConnectionFaults(**faults)))


@pytest.fixture(params=["mock", "real"])
def target(request: pytest.FixtureRequest) -> Target:
    """AsyncMockBackend scripted with PAYLOAD, or the real backend and an echo server."""
    if request.param == "mock":
        return Target(lambda: AsyncMockBackend([PAYLOAD]), "example.com", 80)
    make = request.getfixturevalue("real_async_backend")
    server = request.getfixturevalue("echo_server")
    return Target(make, server.host, server.port, server)


def mock_of(backend: AsyncFaultyBackend) -> AsyncMockBackend | None:
    inner = backend.inner
    return inner if isinstance(inner, AsyncMockBackend) else None


async def read_all(stream: AsyncNetworkStream, n: int, sizes: list[int] | None = None) -> bytes:
    """Read exactly ``n`` bytes, noting each read's size in ``sizes``."""
    data = b""
    while len(data) < n:
        chunk = await stream.read(65536, timeout=5.0)
        assert chunk, f"EOF after {len(data)} of {n} bytes"
        if sizes is not None:
            sizes.append(len(chunk))
        data += chunk
    return data


async def read_until_error(stream: AsyncNetworkStream) -> tuple[bytes, Exception]:
    """Read until a read raises; return what came before and the exception."""
    data = b""
    while True:
        try:
            data += await stream.read(65536, timeout=5.0)
        except Exception as exc:
            return data, exc


# ------------------------------------------------------------------ both backends


async def test_no_faults_is_transparent(target: Target) -> None:
    """Without faults the wrapper changes nothing: the bytes come back as they went."""
    backend = AsyncFaultyBackend(target.make())
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    assert isinstance(stream, AsyncNetworkStream)
    await stream.write(PAYLOAD)
    assert await read_all(stream, len(PAYLOAD)) == PAYLOAD
    await stream.aclose()
    assert stream.closed
    assert backend.events == []
    assert backend.streams == [stream]


async def test_reset_after_read(target: Target) -> None:
    """Exactly N bytes are delivered, then reads raise ReadError and keep raising,
    and writes fail too."""
    backend = target.faulty(reset_after_read=100)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    await stream.write(PAYLOAD)
    data, error = await read_until_error(stream)
    assert data == PAYLOAD[:100]
    assert type(error) is ReadError
    assert str(error) == "connection 1 reset after 100 bytes read (injected fault)"
    with pytest.raises(ReadError, match="was reset"):
        await stream.read(10, timeout=5.0)
    with pytest.raises(WriteError, match="was reset"):
        await stream.write(b"more")
    assert stream.get_extra_info("is_readable") is True
    assert backend.events[0] == FaultEvent(1, "read", "reset", 100)
    await stream.aclose()


async def test_reset_after_write(target: Target) -> None:
    """The bytes before the offset reach the peer; the write then raises WriteError."""
    backend = target.faulty(reset_after_write=100)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    await stream.write(PAYLOAD[:60])
    with pytest.raises(WriteError, match="reset after 100 bytes written"):
        await stream.write(PAYLOAD[60:])
    assert stream.bytes_written == 100
    with pytest.raises(ReadError):
        await stream.read(10)
    if target.server is not None:
        assert await read_all(stream.inner, 100) == PAYLOAD[:100]
    else:
        assert isinstance(stream.inner, AsyncMockStream)
        assert stream.inner.data_written == PAYLOAD[:100]
    await stream.aclose()


async def test_short_reads_and_writes_keep_the_bytes(target: Target) -> None:
    """Reads return at most k bytes and writes are split; the bytes are unchanged."""
    backend = target.faulty(max_read_bytes=7, max_write_bytes=50)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    await stream.write(PAYLOAD)
    sizes: list[int] = []
    assert await read_all(stream, len(PAYLOAD), sizes) == PAYLOAD
    assert max(sizes) <= 7
    if isinstance(stream.inner, AsyncMockStream):
        assert [len(piece) for piece in stream.inner.written] == [50] * 20 + [24]
    await stream.aclose()


async def test_stalled_read_times_out(target: Target) -> None:
    """A read past the stall offset waits out its timeout, then raises ReadTimeout."""
    backend = target.faulty(stall_after_read=10)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    await stream.write(PAYLOAD)
    assert await read_all(stream, 10) == PAYLOAD[:10]
    started = time.monotonic()
    with pytest.raises(ReadTimeout, match="stalled past its timeout"):
        await stream.read(100, timeout=0.05)
    mock = mock_of(backend)
    if mock is not None:
        assert mock.sleeps == [0.05]
    else:
        assert time.monotonic() - started >= 0.04
    with pytest.raises(ReadTimeout):  # it stays stalled
        await stream.read(100, timeout=0.01)
    assert [event.kind for event in backend.events] == ["stall", "stall"]
    await stream.aclose()


async def test_stalled_write_times_out(target: Target) -> None:
    """A write past the stall offset sends what comes before it, then WriteTimeout."""
    backend = target.faulty(stall_after_write=20)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    with pytest.raises(WriteTimeout):
        await stream.write(PAYLOAD, timeout=0.05)
    assert stream.bytes_written == 20
    assert backend.events == [FaultEvent(1, "write", "stall", 20)]
    await stream.aclose()


async def test_refused_connect(target: Target) -> None:
    """A refused connect raises ConnectError and never reaches the inner backend."""
    backend = target.faulty(refuse=True)
    with pytest.raises(ConnectError, match="connection 1 refused"):
        await backend.connect_tcp(target.host, target.port, timeout=5.0)
    assert backend.streams == []
    assert backend.events == [FaultEvent(1, "connect", "refuse")]
    mock = mock_of(backend)
    if mock is not None:
        assert mock.connect_calls == []
    else:
        assert target.server is not None
        assert target.server.accepted.empty()


async def test_slow_connect_times_out(target: Target) -> None:
    """A connect latency beyond the timeout waits the timeout, then ConnectTimeout."""
    backend = target.faulty(connect_latency=30.0)
    started = time.monotonic()
    with pytest.raises(ConnectTimeout, match="injected latency"):
        await backend.connect_tcp(target.host, target.port, timeout=0.05)
    elapsed = time.monotonic() - started
    mock = mock_of(backend)
    if mock is not None:
        assert mock.sleeps == [0.05]
        assert mock.connect_calls == []
    else:
        assert 0.04 <= elapsed < 5.0
    assert backend.events == [FaultEvent(1, "connect", "timeout")]


async def test_connect_latency_within_the_timeout(target: Target) -> None:
    """A connect latency below the timeout delays the connect, which then succeeds."""
    backend = target.faulty(connect_latency=0.05)
    started = time.monotonic()
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    mock = mock_of(backend)
    if mock is not None:
        assert mock.sleeps == [0.05]
        assert mock.connect_calls[0].timeout == pytest.approx(4.95)
    else:
        assert time.monotonic() - started >= 0.04
    await stream.aclose()


async def test_tls_failure(target: Target) -> None:
    """start_tls raises ConnectError naming the injected failure and closes the stream."""
    backend = target.faulty(fail_tls=True)
    stream = await backend.connect_tcp(target.host, target.port, timeout=5.0)
    context = ssl.create_default_context()
    with pytest.raises(ConnectError, match=r"TLS handshake of connection 1 failed \(injected"):
        await stream.start_tls(context, "example.com", timeout=5.0)
    assert stream.closed
    if target.server is not None:
        assert target.server.wait_idle()  # the server saw the close
    else:
        assert isinstance(stream.inner, AsyncMockStream)
        assert stream.inner.closed
        assert stream.inner.tls_calls == []
    assert backend.events == [FaultEvent(1, "start_tls", "tls_failure")]


# ------------------------------------------------------------------ AsyncMockBackend only


async def test_read_and_write_latency_use_the_inner_sleep() -> None:
    """Each read and non-empty write sleeps its latency through the inner backend."""
    inner = AsyncMockBackend([b"abc", b"def"])
    plan = Faults(default=ConnectionFaults(read_latency=0.25, write_latency=0.5))
    stream = await AsyncFaultyBackend(inner, plan).connect_tcp("example.com", 80)
    await stream.write(b"x", timeout=2.0)
    await stream.write(b"")
    assert await stream.read(10, timeout=1.0) == b"abc"
    assert await stream.read(10) == b"def"
    assert inner.sleeps == [0.5, 0.25, 0.25]


async def test_read_latency_beyond_the_timeout() -> None:
    """A read latency past the read timeout raises ReadTimeout and reads nothing."""
    inner = AsyncMockBackend([b"abc"])
    plan = Faults(default=ConnectionFaults(read_latency=3.0, write_latency=3.0))
    stream = await AsyncFaultyBackend(inner, plan).connect_tcp("example.com", 80)
    with pytest.raises(ReadTimeout, match="injected latency"):
        await stream.read(10, timeout=1.0)
    with pytest.raises(WriteTimeout, match="injected latency"):
        await stream.write(b"x", timeout=1.0)
    assert inner.sleeps == [1.0, 1.0]
    assert await stream.read(10) == b"abc"


async def test_stall_without_timeout_gives_up_at_the_limit() -> None:
    """With no timeout a stall sleeps up to stall_limit, then StallLimitExceeded."""
    inner = AsyncMockBackend([b"abc"])
    plan = Faults(default=ConnectionFaults(stall_after_read=0), stall_limit=1.5)
    stream = await AsyncFaultyBackend(inner, plan).connect_tcp("example.com", 80)
    with pytest.raises(StallLimitExceeded, match=r"stall_limit=1\.5"):
        await stream.read(10)
    assert sum(inner.sleeps) == pytest.approx(1.5)


async def test_close_ends_a_stall_without_timeout() -> None:
    """Closing the stream from another task ends a stalled read with ReadError."""
    stalling = anyio.Event()

    async def sleep(seconds: float) -> None:
        stalling.set()
        await anyio.sleep(seconds)

    faults = ConnectionFaults(stall_after_read=0)
    stream = AsyncFaultyStream(AsyncMockStream([b"abc"]), faults, sleep=sleep)
    errors: list[BaseException] = []

    async def reader() -> None:
        try:
            await stream.read(10)
        except ReadError as exc:
            errors.append(exc)

    with anyio.fail_after(5.0):
        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await stalling.wait()
            await stream.aclose()
    [error] = errors
    assert "closed while a read stalled" in str(error)


async def test_cancelling_a_stall_propagates_the_cancellation() -> None:
    """A stall is cancellable: the loop's cancellation goes through unchanged."""
    stream = AsyncFaultyStream(AsyncMockStream([b"abc"]), ConnectionFaults(stall_after_read=0))
    with anyio.move_on_after(0.01) as scope:
        await stream.read(10, timeout=30.0)
    assert scope.cancelled_caught
    assert stream.events == []


async def test_start_tls_passes_through_and_counts_carry_on() -> None:
    """start_tls reaches the inner stream; the TLS stream keeps the connection's counts."""
    inner = AsyncMockBackend([b"0123456789"])
    plan = Faults(default=ConnectionFaults(reset_after_read=6))
    stream = await AsyncFaultyBackend(inner, plan).connect_tcp("example.com", 443)
    assert await stream.read(4) == b"0123"
    context = ssl.create_default_context()
    tls = await stream.start_tls(context, "example.com", timeout=3.0)
    assert isinstance(tls, AsyncFaultyStream)
    assert inner.streams[0].tls_calls[0].timeout == 3.0
    assert await tls.read(100) == b"45"
    with pytest.raises(ReadError, match="after 6 bytes"):
        await tls.read(100)
    await tls.aclose()
    assert stream.closed
    assert inner.streams[0].closed


async def test_schedule_is_honoured_exactly() -> None:
    """Each scheduled connection gets its faults, the others none, in connect order."""
    inner = AsyncMockBackend([b"x" * 300])
    plan = Faults(
        schedule={
            2: ConnectionFaults(reset_after_read=100),
            3: ConnectionFaults(refuse=True),
            5: ConnectionFaults(max_read_bytes=64),
        }
    )
    backend = AsyncFaultyBackend(inner, plan)
    outcomes: list[object] = []
    for _ in range(5):
        try:
            stream = await backend.connect_tcp("example.com", 80)
        except ConnectError:
            outcomes.append("refused")
            continue
        try:
            outcomes.append(len(await stream.read(1000)))
            outcomes.append(len(await stream.read(1000)))
        except ReadError:
            outcomes.append("reset")
    assert outcomes == [300, 0, 100, "reset", "refused", 300, 0, 64, 64]
    assert backend.events == [
        FaultEvent(2, "read", "reset", 100),
        FaultEvent(3, "connect", "refuse"),
    ]
    assert [stream.connection for stream in backend.streams] == [1, 2, 4, 5]


async def run_seeded(seed: int) -> tuple[list[object], list[FaultEvent], list[float]]:
    """Twenty connections over an AsyncMockBackend under seeded random faults."""
    inner = AsyncMockBackend([b"y" * 500])
    rates = FaultRates(
        refuse=0.2,
        slow_connect=0.1,
        reset_read=0.3,
        stall_read=0.2,
        short_reads=0.5,
        latency=0.3,
        max_offset=600,
    )
    backend = AsyncFaultyBackend(inner, Faults(seed=seed, rates=rates))
    outcomes: list[object] = []
    for _ in range(20):
        try:
            stream = await backend.connect_tcp("example.com", 80, timeout=0.5)
            await stream.write(b"hello")
            while chunk := await stream.read(1000, timeout=0.5):
                outcomes.append(len(chunk))
            outcomes.append("eof")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    return outcomes, backend.events, inner.sleeps


async def test_same_seed_same_run() -> None:
    """The same seed injects the same faults at the same points, as in blocking code."""
    first = await run_seeded(2024)
    assert first == await run_seeded(2024)
    assert first != await run_seeded(2025)
    assert {event.kind for event in first[1]} == {"refuse", "timeout", "reset", "stall"}


async def test_unix_socket_connects_count_as_connections() -> None:
    """connect_unix_socket draws from the same numbering and faults as TCP."""
    inner = AsyncMockBackend([b"abc"])
    backend = AsyncFaultyBackend(inner, Faults(schedule={2: ConnectionFaults(refuse=True)}))
    stream = await backend.connect_unix_socket("/tmp/sock", timeout=1.0)
    assert await stream.read(10) == b"abc"
    with pytest.raises(ConnectError):
        await backend.connect_unix_socket("/tmp/sock")
    assert [call.kind for call in inner.connect_calls] == ["unix"]


async def test_resolve_and_sleep_pass_through() -> None:
    """resolve and sleep are the inner backend's, untouched."""
    inner = AsyncMockBackend([])
    backend = AsyncFaultyBackend(inner, Faults(default=ConnectionFaults(refuse=True)))
    assert await backend.resolve("127.0.0.1") == ["127.0.0.1"]
    await backend.sleep(0.5)
    assert inner.sleeps == [0.5]
    assert backend.inner is inner
    assert isinstance(backend, AsyncNetworkBackend)


async def test_a_stream_built_directly() -> None:
    """AsyncFaultyStream wraps any stream; it is connection 1 with its own events."""
    faults = ConnectionFaults(reset_after_read=2)
    stream = AsyncFaultyStream(AsyncMockStream([b"abcdef"]), faults)
    assert await stream.read(10) == b"ab"
    with pytest.raises(ReadError):
        await stream.read(10)
    assert stream.events == [FaultEvent(1, "read", "reset", 2)]
    assert stream.bytes_read == 2
    assert repr(stream).startswith("<AsyncFaultyStream connection=1 over <AsyncMockStream")
