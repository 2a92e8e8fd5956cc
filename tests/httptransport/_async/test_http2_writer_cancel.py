# unasync: async-only
"""HTTP/2: the request that is writing for the whole connection (issue 13).

A request that becomes the connection's writer sends the frames of every stream. If it
is cancelled in the middle of a write, only its own stream may end: the frame in flight
must still be written whole (no half frame on the wire), its stream reset, and the other
requests on the connection carry on. If its write is stuck and it has no write timeout,
a request that gives up waiting for it closes the connection, which ends that write too.
"""

from __future__ import annotations

import typing

import pytest

from httptransport import AsyncConnectionPool, WriteTimeout
from netbackend_base import AsyncNetworkBackend, AsyncNetworkStream, WriteError, find_backend

anyio = pytest.importorskip("anyio")
h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS = 0x1
_CANCEL = 0x8
EXT = {"timeout": {"connect": 5.0, "read": 10.0, "write": 5.0, "pool": 5.0}}


def headers_frames(data: bytes) -> list[int]:
    """The stream ids of the HEADERS frames in one write (whole frames, as h2 queues them)."""
    position = len(_PREFACE) if data.startswith(_PREFACE) else 0
    ids = []
    while position + 9 <= len(data):
        length = int.from_bytes(data[position : position + 3], "big")
        if data[position + 3] == _HEADERS:
            ids.append(int.from_bytes(data[position + 5 : position + 9], "big") & 0x7FFFFFFF)
        position += 9 + length
    return ids


class Gate:
    """Holds one chosen write part-way: its first bytes go out, then it waits for
    ``release``; records which streams' HEADERS have been written."""

    def __init__(self) -> None:
        self.stream_id: int | None = None  # hold the write carrying this stream's HEADERS
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.closed = False
        self._written: dict[int, typing.Any] = {}

    def written(self, stream_id: int) -> typing.Any:
        """An event set once a write carrying ``stream_id``'s HEADERS has finished."""
        return self._written.setdefault(stream_id, anyio.Event())


class GatedStream(AsyncNetworkStream):
    def __init__(self, inner: AsyncNetworkStream, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        gate = self._gate
        ids = headers_frames(buffer)
        if gate.stream_id is not None and gate.stream_id in ids:
            gate.stream_id = None
            await self._inner.write(buffer[:5], timeout)  # part of a frame header
            gate.entered.set()
            await gate.release.wait()
            if gate.closed:
                raise WriteError("the stream was closed during the write")
            await self._inner.write(buffer[5:], timeout)
        else:
            await self._inner.write(buffer, timeout)
        for stream_id in ids:
            gate.written(stream_id).set()

    async def aclose(self) -> None:
        self._gate.closed = True
        self._gate.release.set()  # as closing a socket ends a write blocked on it
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
        stream = await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return GatedStream(stream, self._gate)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _script(peer: typing.Any, index: int) -> None:
    """``/ok`` is answered at once, ``/held`` once some stream has been reset, anything
    else never."""
    held: list[int] = []
    for event in peer.each_event():
        if isinstance(event, h2_events.RequestReceived):
            path = dict(event.headers)[b":path"]
            if path == b"/held":
                held.append(event.stream_id)
            elif path == b"/ok":
                peer.respond(event.stream_id, b"ok")
        elif isinstance(event, h2_events.StreamReset):
            while held:
                peer.respond(held.pop(), b"held")


@pytest.mark.anyio
async def test_cancelling_the_writer_cancels_only_its_request(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """A's request waits for its response; B's request becomes the writer and is
    cancelled after the first bytes of its HEADERS frame went out. B's frame is still
    written whole, B's stream is reset, A gets its response and the connection takes
    another request."""
    peer = h2_peer(_script)
    gate = Gate()
    backend = GatedBackend(find_backend(anyio_backend)(), gate)
    outcome: dict[str, typing.Any] = {}
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with AsyncConnectionPool(
            http1=False, http2=True, network_backend=backend, max_connections=1
        ) as pool:
            # Stream 1: the connection is set up (SETTINGS exchanged) and idle.
            assert (await pool.request("GET", peer.url("/ok"), extensions=EXT)).content == b"ok"

            async def held() -> None:
                try:
                    response = await pool.request("GET", peer.url("/held"), extensions=EXT)
                except Exception as exc:
                    outcome["A"] = exc
                else:
                    outcome["A"] = response.content

            cancelled = anyio.CancelScope()

            async def writer() -> None:
                with cancelled:
                    await pool.request("GET", peer.url("/never"), extensions=EXT)
                outcome["B"] = "cancelled" if cancelled.cancelled_caught else "finished"

            async with anyio.create_task_group() as tg:
                tg.start_soon(held)  # stream 3, then reads until its response comes
                await gate.written(3).wait()
                gate.stream_id = 5
                tg.start_soon(writer)  # stream 5: it writes, and is held part-way
                await gate.entered.wait()
                cancelled.cancel()
                gate.release.set()
            assert outcome == {"A": b"held", "B": "cancelled"}
            response = await pool.request("GET", peer.url("/ok"), extensions=EXT)
            assert response.content == b"ok"
            assert len(pool.connections) == 1
    received = peer.connections[0].received
    assert [e.stream_id for e in received if isinstance(e, h2_events.RequestReceived)] == [
        1,
        3,
        5,
        7,
    ]
    resets = [e for e in received if isinstance(e, h2_events.StreamReset)]
    assert [(e.stream_id, e.error_code) for e in resets] == [(5, _CANCEL)]


_WIDE = 2**24


def _read_all(peer: typing.Any, index: int) -> None:
    """Open the connection's send window wide (the streams' come with SETTINGS), then
    read everything."""
    peer.h2.increment_flow_control_window(_WIDE)
    peer.flush()
    while peer.events():
        pass


@pytest.mark.anyio
async def test_giving_up_on_a_stuck_writer_ends_its_write(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """The writer's request has no write timeout and its write never ends; another
    request, whose frames wait behind it, gives up after its own write timeout: the
    connection is closed, and the writer's request ends with the same error instead of
    waiting for ever."""
    peer = h2_peer(_read_all, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: _WIDE})
    gate = Gate()
    gate.stream_id = 1  # the first write (preface and HEADERS) never finishes
    backend = GatedBackend(find_backend(anyio_backend)(), gate)
    outcome: dict[str, BaseException] = {}
    with anyio.fail_after(30):  # a guard only: nothing here waits for it
        async with AsyncConnectionPool(http1=False, http2=True, network_backend=backend) as pool:

            async def request(name: str, timeouts: dict[str, float], body: bytes) -> None:
                try:
                    await pool.request(
                        "POST", peer.url("/"), content=body, extensions={"timeout": timeouts}
                    )
                except WriteTimeout as exc:
                    outcome[name] = exc

            async with anyio.create_task_group() as tg:
                tg.start_soon(request, "writer", {"read": 10.0}, b"")
                await gate.entered.wait()
                # More than the bound h2 may hold while a write is in progress: it waits.
                tg.start_soon(request, "behind", {"read": 10.0, "write": 0.2}, b"b" * 300_000)
    assert set(outcome) == {"writer", "behind"}
    assert outcome["writer"] is outcome["behind"]
