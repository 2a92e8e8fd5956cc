"""HTTP/2: a request still waiting for the server's SETTINGS has nothing on the wire.

Until the server's SETTINGS arrive only one stream is open; the other requests wait on
placeholders, and one of them reads the socket meanwhile. If the connection then breaks
because the first stream's request was cancelled part-way through its write, none of
theirs was sent: each must get ``ConnectionNotAvailable`` (the pool sends it elsewhere),
the one that was reading too, not the other request's ``RemoteProtocolError`` (seen
once in the trio HTTP/2 storm of ``test_storms.py``).
"""

from __future__ import annotations

import typing

import pytest

from httptransport import (
    AsyncHTTP2Connection,
    ConnectionNotAvailable,
    Origin,
    Request,
)
from netbackend_base import AsyncNetworkStream, ReadError

anyio = pytest.importorskip("anyio")
pytest.importorskip("h2")

_URL = "http://e/"
_HOST = [(b"Host", b"e")]


class _SilentServer(AsyncNetworkStream):
    """A server that neither takes the client's first write nor sends anything (its
    SETTINGS are late); closing the stream ends a read waiting on it, as a socket closed
    by another task does."""

    def __init__(self) -> None:
        self.writing = anyio.Event()
        self.reading = anyio.Event()
        self.closed = anyio.Event()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writing.set()
        await anyio.sleep_forever()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reading.set()
        await self.closed.wait()
        raise ReadError("another task closed this socket")

    async def aclose(self) -> None:
        self.closed.set()

    def get_extra_info(self, info: str) -> typing.Any:
        return None


@pytest.mark.anyio
async def test_a_cut_write_before_settings_sends_the_waiting_reader_elsewhere() -> None:
    """Request A opens stream 1 and is cancelled while writing it (the only stream, so
    the write is not shielded: the connection breaks); request B, waiting for the
    server's SETTINGS and reading the socket meanwhile, gets ConnectionNotAvailable."""
    server = _SilentServer()
    conn = AsyncHTTP2Connection(Origin(b"http", b"e", 80), server)
    outcome: dict[str, typing.Any] = {}
    cancelled = anyio.CancelScope()

    async def first() -> None:
        with cancelled:
            await conn.handle_async_request(Request("GET", _URL, headers=_HOST))
        outcome["A"] = "cancelled" if cancelled.cancelled_caught else "finished"

    async def waiting() -> None:
        try:
            await conn.handle_async_request(
                Request("POST", _URL, headers=_HOST, content=b"p" * 3000)
            )
        except Exception as exc:
            outcome["B"] = exc
        else:  # pragma: no cover - the server never answers
            outcome["B"] = "answered"

    with anyio.fail_after(10):  # a guard only: nothing here waits for time to pass
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await server.writing.wait()  # A writes the preface and stream 1's HEADERS
            tg.start_soon(waiting)
            await server.reading.wait()  # B waits for SETTINGS, as the reader
            assert list(conn._streams) == [1]
            cancelled.cancel()
    assert outcome["A"] == "cancelled"
    assert isinstance(outcome["B"], ConnectionNotAvailable), repr(outcome["B"])
    assert conn.is_closed()
