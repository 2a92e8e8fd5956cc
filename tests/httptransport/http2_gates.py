"""Scaffolding of the async HTTP/2 writer tests: a network backend whose streams let a
test take over, hold or fail chosen writes and reads, the scripted h2 peer they talk to,
and a record of what each request ended with.

Used by ``_async/test_http2_replay.py``, ``_async/test_http2_writer_cancel.py`` and
``test_cov_async_http2_writer.py``; their blocking twins in
``test_sync_http2_interrupted.py`` have gates of their own, and share the constants,
the peer's script and :func:`requests_and_resets`. The tests run with importlib imports, so no test
module can import this one by its file name: ``conftest.py`` beside it loads it by path
as ``_httptransport_http2_gates``, the name they import it by.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable

import anyio
import h2.events

from netbackend_base import AsyncNetworkBackend, AsyncNetworkStream, WriteError

if typing.TYPE_CHECKING:
    from httptransport import AsyncConnectionPool

__all__ = (
    "CANCEL",
    "EXT",
    "UPLOAD",
    "WIDE",
    "Gate",
    "GatedBackend",
    "GatedStream",
    "Handler",
    "Outcomes",
    "Write",
    "headers_frames",
    "requests_and_resets",
    "script",
)

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEADERS = 0x1
CANCEL = 0x8  # the error code of RST_STREAM
WIDE = 2**24
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
    """What the gated streams do: ``on_write[n]`` takes over the write carrying stream
    ``n``'s HEADERS (given the bytes and the real write; :meth:`hold` installs one);
    ``on_read`` (once) the next read; ``closed`` is set when a connection's stream is
    closed; :meth:`written` tells when a stream's HEADERS have gone out."""

    def __init__(self) -> None:
        self.on_write: dict[int, Handler] = {}
        self.on_read: Callable[[], Awaitable[bytes]] | None = None
        self.closed = anyio.Event()
        self.streams: list[GatedStream] = []
        self.entered = anyio.Event()  # set by the write :meth:`hold` holds
        self.release = anyio.Event()  # lets it go on; set too when a stream is closed
        self._written: dict[int, anyio.Event] = {}

    def written(self, stream_id: int) -> anyio.Event:
        """An event set once a write carrying ``stream_id``'s HEADERS has finished."""
        return self._written.setdefault(stream_id, anyio.Event())

    def hold(self, stream_id: int) -> None:
        """Hold the write carrying ``stream_id``'s HEADERS part-way: its first bytes go
        out (part of a frame header), ``entered`` is set, and it waits for ``release``;
        then the rest goes out, unless a stream was closed meanwhile (a WriteError)."""

        async def held(data: bytes, write: Write) -> None:
            await write(data[:5])
            self.entered.set()
            await self.release.wait()
            if self.closed.is_set():
                raise WriteError("the stream was closed during the write")
            await write(data[5:])

        self.on_write[stream_id] = held


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
        ids = headers_frames(buffer)
        handler = None
        for stream_id in ids:
            handler = handler or self._gate.on_write.pop(stream_id, None)

        async def write(data: bytes) -> None:
            await self._inner.write(data, timeout)

        if handler is None:
            await write(buffer)
        else:
            await handler(buffer, write)
        for stream_id in ids:
            self._gate.written(stream_id).set()

    async def aclose(self) -> None:
        # As closing a socket ends a read or write blocked on it.
        self.closed = True
        self._gate.closed.set()
        self._gate.release.set()
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


def script(peer: typing.Any, index: int, *, open_window: bool = True) -> None:
    """An h2 peer's script (``h2_peer(script)``): ``/ok`` is answered at once; ``/held``
    once some stream has been reset; ``/partial`` with a head and part of a body;
    ``/upload`` with how many body bytes came, at its end; anything else never. With
    ``open_window``, the connection's window is opened wide first (the streams' come
    with SETTINGS)."""
    if open_window:
        peer.h2.increment_flow_control_window(WIDE)
        peer.flush()
    held: list[int] = []
    paths: dict[int, bytes] = {}
    received: dict[int, int] = {}
    for event in peer.each_event():
        if isinstance(event, h2.events.RequestReceived):
            path = paths[event.stream_id] = dict(event.headers)[b":path"]
            if path == b"/held":
                held.append(event.stream_id)
            elif path == b"/ok":
                peer.respond(event.stream_id, b"ok")
            elif path == b"/partial":
                peer.h2.send_headers(event.stream_id, [(b":status", b"200")])
                peer.h2.send_data(event.stream_id, b"part")
                peer.flush()
        elif isinstance(event, h2.events.DataReceived):
            received[event.stream_id] = received.get(event.stream_id, 0) + len(event.data)
        elif isinstance(event, h2.events.StreamEnded) and paths.get(event.stream_id) == b"/upload":
            peer.respond(event.stream_id, str(received.get(event.stream_id, 0)).encode())
        elif isinstance(event, h2.events.StreamReset):
            while held:
                peer.respond(held.pop(), b"held")


def requests_and_resets(
    peer: typing.Any, index: int = 0
) -> tuple[list[int], list[tuple[int, int]]]:
    """The streams the peer's connection ``index`` saw opened, and those reset (with
    their error codes)."""
    received = peer.connections[index].received
    opened = [e.stream_id for e in received if isinstance(e, h2.events.RequestReceived)]
    resets = [(e.stream_id, e.error_code) for e in received if isinstance(e, h2.events.StreamReset)]
    return opened, resets


class Outcomes(dict[str, typing.Any]):
    """What each named request returned (its body), raised, or ``"cancelled"``."""

    async def run(
        self,
        name: str,
        pool: AsyncConnectionPool,
        url: str,
        scope: typing.Any = None,
        **kwargs: typing.Any,
    ) -> None:
        kwargs.setdefault("extensions", EXT)
        method = "POST" if "content" in kwargs else "GET"
        cancel_scope = anyio.CancelScope() if scope is None else scope
        with cancel_scope:
            try:
                self[name] = (await pool.request(method, url, **kwargs)).content
            except Exception as exc:
                self[name] = exc
        if cancel_scope.cancelled_caught:
            self[name] = "cancelled"
