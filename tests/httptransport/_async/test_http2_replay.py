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

import pytest

from httptransport import AsyncConnectionPool
from netbackend_base import WriteError, find_backend

anyio = pytest.importorskip("anyio")
h2_settings = pytest.importorskip("h2.settings")

if typing.TYPE_CHECKING:  # mypy's name for tests/httptransport/http2_gates.py
    from httptransport.http2_gates import (
        EXT,
        UPLOAD,
        WIDE,
        Gate,
        GatedBackend,
        Outcomes,
        Write,
        script,
    )
else:  # loaded by path, under this name, by conftest.py
    from _httptransport_http2_gates import (
        EXT,
        UPLOAD,
        WIDE,
        Gate,
        GatedBackend,
        Outcomes,
        Write,
        script,
    )


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
    peer = h2_peer(script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: WIDE})
    gate = Gate()
    entered, release = anyio.Event(), anyio.Event()
    failure = WriteError("connection reset by peer")

    async def fails(data: bytes, write: Write) -> None:
        entered.set()
        await release.wait()
        raise failure

    gate.on_write[3] = fails
    outcomes = Outcomes()
    url = peer.url
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with _pool(gate, anyio_backend) as pool:
            # Stream 1: the connection is set up (SETTINGS exchanged) and idle.
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            async with anyio.create_task_group() as tg:
                tg.start_soon(outcomes.run, "T", pool, url("/never"))
                await entered.wait()
                tg.start_soon(
                    lambda: outcomes.run("U", pool, url("/upload"), content=b"u" * UPLOAD)
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
    peer = h2_peer(script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: WIDE})
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
    outcomes = Outcomes()
    url = peer.url
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with _pool(gate, anyio_backend) as pool:
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            gate.on_read = eof_once_closed
            async with anyio.create_task_group() as tg:
                tg.start_soon(outcomes.run, "R", pool, url("/never"))  # stream 3
                await reading.wait()
                tg.start_soon(outcomes.run, "T", pool, url("/never"))  # stream 5
            assert outcomes == {"R": failure, "T": failure}
            assert gate.streams[0].closed
            assert pool.connections == []
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
    assert len(peer.connections) == 2
