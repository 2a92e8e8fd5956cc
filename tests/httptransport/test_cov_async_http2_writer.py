"""HTTP/2 on the async pool: a writer cancelled between whole writes while other
requests' frames are queued (issue 13). ``_async/test_http2_writer_cancel.py`` covers
a writer cancelled mid-write and a stuck writer; here the cancelled writer still has
frames of others to send: it sends them before it leaves, or hands the writing over to a
request that would otherwise wait for it, and a request waiting to take over gives up
after its write timeout, or when it is cancelled itself. The blocking twin of these
cases is ``test_sync_http2_interrupted.py``.

Which task is where is made certain by gates in the network stream and by
``anyio.wait_all_tasks_blocked()``, never by sleeping.
"""

from __future__ import annotations

import typing
from collections.abc import Callable

import pytest

from httptransport import AsyncConnectionPool, WriteTimeout
from netbackend_base import WriteError, find_backend

anyio = pytest.importorskip("anyio")
h2_settings = pytest.importorskip("h2.settings")

if typing.TYPE_CHECKING:  # mypy's name for tests/httptransport/http2_gates.py
    from httptransport.http2_gates import (
        CANCEL,
        EXT,
        UPLOAD,
        WIDE,
        Gate,
        GatedBackend,
        Handler,
        Outcomes,
        Write,
        requests_and_resets,
        script,
    )
else:  # loaded by path, under this name, by conftest.py
    from _httptransport_http2_gates import (
        CANCEL,
        EXT,
        UPLOAD,
        WIDE,
        Gate,
        GatedBackend,
        Handler,
        Outcomes,
        Write,
        requests_and_resets,
        script,
    )


def assert_quiet(pool: AsyncConnectionPool) -> None:
    logic = pool._logic
    assert (logic.active_requests, logic.queued_count) == (0, 0), repr(pool)
    assert logic.slot_count == len(pool.connections), "a slot is reserved by nobody"


class Run:
    """One run of :func:`_cancelled_writer`: what a drain handler may use."""

    gate: Gate
    pool: AsyncConnectionPool
    peer: typing.Any
    tg: typing.Any
    outcomes: Outcomes
    broken: bool

    def upload(self, scope: typing.Any = None, **kwargs: typing.Any) -> None:
        """Start U: an upload of more than h2 may hold while another request writes."""
        self.tg.start_soon(
            lambda: self.outcomes.run(
                "U", self.pool, self.peer.url("/upload"), scope, content=b"u" * UPLOAD, **kwargs
            )
        )


async def _cancelled_writer(
    h2_peer: typing.Any, anyio_backend: str, drain: Callable[[Run], Handler] | None
) -> tuple[Run, Outcomes]:
    """R's request (stream 3) reads for everyone. T's request (stream 5) writes its
    HEADERS (shielded: stream 3 shares the connection) and is cancelled meanwhile; Q's
    request (stream 7) queues its HEADERS behind T's write. T's write ends, T is
    cancelled between writes and sends Q's HEADERS before it leaves (that write is
    ``drain(run)``'s), then resets its stream, which answers R and Q."""
    run = Run()
    run.peer = h2_peer(script, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: WIDE})
    run.gate = gate = Gate()
    backend = GatedBackend(find_backend(anyio_backend)(), gate)
    run.outcomes = outcomes = Outcomes()
    entered, release = anyio.Event(), anyio.Event()

    async def held(data: bytes, write: Write) -> None:
        entered.set()
        await release.wait()
        await write(data)

    gate.on_write[5] = held
    if drain is not None:
        gate.on_write[7] = drain(run)
    cancel_t = anyio.CancelScope()
    url = run.peer.url
    with anyio.fail_after(30):  # a guard only: the test never waits for time to pass
        async with AsyncConnectionPool(http1=False, http2=True, network_backend=backend) as pool:
            run.pool = pool
            assert (await pool.request("GET", url("/ok"), extensions=EXT)).content == b"ok"
            async with anyio.create_task_group() as tg:
                run.tg = tg
                tg.start_soon(outcomes.run, "R", pool, url("/held"))
                await anyio.wait_all_tasks_blocked()  # R reads
                tg.start_soon(outcomes.run, "T", pool, url("/never"), cancel_t)
                await entered.wait()
                tg.start_soon(outcomes.run, "Q", pool, url("/held"))
                await anyio.wait_all_tasks_blocked()  # Q's HEADERS are queued
                cancel_t.cancel()
                release.set()
            run.broken = gate.closed.is_set()  # the connection's socket was closed
            if not run.broken:
                response = await pool.request("GET", url("/ok"), extensions=EXT)
                outcomes["next"] = response.content
            assert_quiet(pool)
    return run, outcomes


@pytest.mark.anyio
async def test_cancelled_between_writes_the_writer_sends_the_queue_and_leaves(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    run, outcomes = await _cancelled_writer(h2_peer, anyio_backend, None)
    assert outcomes == {"R": b"held", "T": "cancelled", "Q": b"held", "next": b"ok"}
    assert not run.broken
    assert requests_and_resets(run.peer) == ([1, 3, 5, 7, 9], [(5, CANCEL)])


@pytest.mark.anyio
async def test_a_request_over_the_bound_takes_the_writing_over(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """While the cancelled writer T sends Q's HEADERS, U uploads more than h2 may hold
    meanwhile: it waits to take the writing over, gets it after that write, and sends
    its body itself."""

    def until_u_waits(run: Run) -> Handler:
        async def handler(data: bytes, write: Write) -> None:
            run.upload()
            await anyio.wait_all_tasks_blocked()  # U waits to take over
            await write(data)

        return handler

    run, outcomes = await _cancelled_writer(h2_peer, anyio_backend, until_u_waits)
    assert outcomes == {
        "R": b"held",
        "T": "cancelled",
        "Q": b"held",
        "U": str(UPLOAD).encode(),
        "next": b"ok",
    }
    assert not run.broken
    assert requests_and_resets(run.peer) == ([1, 3, 5, 7, 9, 11], [(5, CANCEL)])


@pytest.mark.anyio
async def test_a_request_waiting_to_take_over_is_cancelled(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """U waits to take the writing over and is cancelled: it resets its stream and
    leaves the writing to T, which sends everything queued before it leaves."""

    def after_u_left(run: Run) -> Handler:
        async def handler(data: bytes, write: Write) -> None:
            cancel_u = anyio.CancelScope()
            run.upload(cancel_u)
            await anyio.wait_all_tasks_blocked()  # U waits to take over
            cancel_u.cancel()
            await anyio.wait_all_tasks_blocked()  # U has left
            await write(data)

        return handler

    run, outcomes = await _cancelled_writer(h2_peer, anyio_backend, after_u_left)
    assert outcomes == {
        "R": b"held",
        "T": "cancelled",
        "Q": b"held",
        "U": "cancelled",
        "next": b"ok",
    }
    assert not run.broken
    opened, resets = requests_and_resets(run.peer)
    assert opened == [1, 3, 5, 7, 9, 11]
    assert sorted(resets) == [(5, CANCEL), (9, CANCEL)]


@pytest.mark.anyio
async def test_giving_up_on_a_stuck_retiring_writer_closes_the_connection(
    h2_peer: typing.Any, anyio_backend: str
) -> None:
    """T's write of what was left (Q's HEADERS) never ends; U waits to take the writing
    over and gives up after its write timeout: the connection is closed, which ends T's
    write. U, R and Q fail with the same WriteTimeout."""

    def stuck(run: Run) -> Handler:
        async def handler(data: bytes, write: Write) -> None:
            run.upload(extensions={"timeout": dict(EXT["timeout"], write=0.2)})
            await run.gate.closed.wait()
            raise WriteError("the stream was closed during the write")

        return handler

    run, outcomes = await _cancelled_writer(h2_peer, anyio_backend, stuck)
    assert outcomes["T"] == "cancelled"
    assert isinstance(outcomes["U"], WriteTimeout)
    assert outcomes["R"] is outcomes["U"]
    assert outcomes["Q"] is outcomes["U"]
    assert run.broken
    assert run.pool.connections == []
