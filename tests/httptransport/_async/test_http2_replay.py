# unasync: async-only
"""HTTP/2 on the async pool: a write fails under requests waiting on the connection.

When the connection's writer fails, the connection is broken and closed; a request
none of whose frames the writer had taken is refused (:class:`ConnectionNotAvailable`)
and the pool replays it on a new connection, also when it was waiting for that writer
to drain h2's queue; one whose frames were taken fails with the write's error, also
when its read wakes with the EOF of the socket our side closed. The blocking twins of
these cases are in ``test_sync_http2_interrupted.py`` (and this file is async-only:
which task is where is made certain by gates in the network stream and by
``anyio.wait_all_tasks_blocked()``, which has no blocking counterpart).
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable

import pytest

from httptransport import AsyncConnectionPool
from netbackend_base import AsyncNetworkBackend, AsyncNetworkStream, WriteError, find_backend

anyio = pytest.importorskip("anyio")
h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS = 0x1
_WIDE = 2**24
UPLOAD = 300_000  # more than h2 may hold while another request writes (the bound)
EXT = {"timeout": {"connect": 5.0, "read": 10.0, "write": 5.0, "pool": 5.0}}

Write = Callable[[bytes], Awaitable[None]]
Handler = Callable[[bytes, Write], Awaitable[None]]


def headers_frames(data: bytes) -> list[int]:
    """The stream ids of the HEADERS frames in one write (h2 queues whole frames)."""
    position = len(_PREFACE) if data.startswith(_PREFACE) else 0
    ids = []
    while position + 9 <= len(data):
        length = int.from_bytes(data[position : position + 3], "big")
        if data[position + 3] == _HEADERS:
            ids.append(int.from_bytes(data[position + 5 : position + 9], "big") & 0x7FFFFFFF)
        position += 9 + length
    return ids


class Gate:
    """``on_write[n]`` takes over the write carrying stream ``n``'s HEADERS; ``on_read``
    (once) the next read; ``closed`` is set when a connection's stream is closed."""

    def __init__(self) -> None:
        self.on_write: dict[int, Handler] = {}
        self.on_read: Callable[[], Awaitable[bytes]] | None = None
        self.closed = anyio.Event()
        self.streams: list[GatedStream] = []


class GatedStream(AsyncNetworkStream):
    def __init__(self, inner: AsyncNetworkStream, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        on_read, self._gate.on_read = self._gate.on_read, None
        if on_read is not None:
            return await on_read()
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        handler = None
        for stream_id in headers_frames(buffer):
            handler = handler or self._gate.on_write.pop(stream_id, None)

        async def write(data: bytes) -> None:
            await self._inner.write(data, timeout)

        if handler is None:
            await write(buffer)
        else:
            await handler(buffer, write)

    async def aclose(self) -> None:
        self.closed = True
        self._gate.closed.set()  # as closing a socket ends a read or write blocked on it
        await self._inner.aclose()

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GatedBackend(AsyncNetworkBackend):
    def __init__(self, inner: AsyncNetworkBackend, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Any = None,
    ) -> AsyncNetworkStream:
        inner = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        stream = GatedStream(inner, self._gate)
        self._gate.streams.append(stream)
        return stream

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _script(peer: typing.Any, index: int) -> None:
    """``/ok`` is answered at once; ``/upload`` with how many body bytes came, at its
    end; anything else never. The connection's window is opened wide (the streams' come
    with SETTINGS)."""
    peer.h2.increment_flow_control_window(_WIDE)
    peer.flush()
    paths: dict[int, bytes] = {}
    received: dict[int, int] = {}
    for event in peer.each_event():
        if isinstance(event, h2_events.RequestReceived):
            path = paths[event.stream_id] = dict(event.headers)[b":path"]
            if path == b"/ok":
                peer.respond(event.stream_id, b"ok")
        elif isinstance(event, h2_events.DataReceived):
            received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
        elif isinstance(event, h2_events.StreamEnded) and paths.get(event.stream_id) == b"/upload":
            peer.respond(event.stream_id, str(received.get(event.stream_id, 0)).encode())


async def _outcome(
    outcomes: dict[str, typing.Any],
    name: str,
    pool: AsyncConnectionPool,
    url: str,
    **kwargs: typing.Any,
) -> None:
    """Record what the request returned (its body) or raised under ``name``."""
    method = "POST" if "content" in kwargs else "GET"
    try:
        outcomes[name] = (await pool.request(method, url, extensions=EXT, **kwargs)).content
    except Exception as exc:
        outcomes[name] = exc


def _pool(gate: Gate, anyio_backend: str) -> AsyncConnectionPool:
    backend = GatedBackend(find_backend(anyio_backend)(), gate)
    return AsyncConnectionPool(http1=False, http2=True, network_backend=backend)


@pytest.mark.anyio
async def test_an_upload_waiting_for_a_failed_writer_is_replayed(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """T's write (stream 3's HEADERS) is held; U uploads more than h2 may hold meanwhile
    and waits for T's write to drain the queue; T's write then fails. T fails with that
    WriteError; none of U's frames were taken, so U is refused and replayed on a new
    connection, where its whole body goes."""
    peer = h2_peer(_script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: _WIDE})
    gate = Gate()
    entered, release = anyio.Event(), anyio.Event()
    failure = WriteError("connection reset by peer")

    async def fails(data: bytes, write: Write) -> None:
        entered.set()
        await release.wait()
        raise failure

    gate.on_write[3] = fails
    outcomes: dict[str, typing.Any] = {}
    url = peer.url
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with _pool(gate, anyio_backend) as pool:
            # Stream 1: the connection is set up (SETTINGS exchanged) and idle.
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            async with anyio.create_task_group() as tg:
                tg.start_soon(_outcome, outcomes, "T", pool, url("/never"))
                await entered.wait()
                tg.start_soon(
                    lambda: _outcome(outcomes, "U", pool, url("/upload"), content=b"u" * UPLOAD)
                )
                await anyio.wait_all_tasks_blocked()  # U waits for T's write
                release.set()
            assert outcomes == {"T": failure, "U": str(UPLOAD).encode()}
            first, second = gate.streams
            assert first.closed
            assert not second.closed
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            assert len(pool.connections) == 1
    assert len(peer.connections) == 2


@pytest.mark.anyio
async def test_a_read_woken_by_our_own_close_raises_the_connections_failure(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """R reads for everyone; T's HEADERS write (stream 5) fails, which breaks the
    connection and closes its socket; R's read then wakes with EOF. R raises the
    connection's failure, T's WriteError, not "Server disconnected": the server did not
    hang up."""
    peer = h2_peer(_script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: _WIDE})
    gate = Gate()
    reading = anyio.Event()
    failure = WriteError("connection reset by peer")

    async def eof_once_closed() -> bytes:
        reading.set()
        await gate.closed.wait()
        return b""  # what a read on a socket our side shut down returns

    async def fails(data: bytes, write: Write) -> None:
        raise failure

    gate.on_write[5] = fails
    outcomes: dict[str, typing.Any] = {}
    url = peer.url
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with _pool(gate, anyio_backend) as pool:
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            gate.on_read = eof_once_closed
            async with anyio.create_task_group() as tg:
                tg.start_soon(_outcome, outcomes, "R", pool, url("/never"))  # stream 3
                await reading.wait()
                tg.start_soon(_outcome, outcomes, "T", pool, url("/never"))  # stream 5
            assert outcomes == {"R": failure, "T": failure}
            assert gate.streams[0].closed
            assert pool.connections == []
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
    assert len(peer.connections) == 2
