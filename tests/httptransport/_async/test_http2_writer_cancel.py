# unasync: async-only
"""HTTP/2: the request that is writing for the whole connection (issue 13).

A request that becomes the connection's writer sends the frames of every stream. If it
is cancelled in the middle of a write, only its own stream may end: the frame in flight
must still be written whole (no half frame on the wire), its stream reset, and the other
requests on the connection carry on. If its write is stuck and it has no write timeout,
a request that gives up waiting for it closes the connection, which ends that write too.
"""

from __future__ import annotations

import functools
import typing

import pytest

from httptransport import AsyncConnectionPool, WriteTimeout
from netbackend_base import find_backend

anyio = pytest.importorskip("anyio")
h2_events = pytest.importorskip("h2.events")
h2_settings = pytest.importorskip("h2.settings")

if typing.TYPE_CHECKING:  # mypy's name for tests/httptransport/http2_gates.py
    from httptransport.http2_gates import CANCEL, EXT, WIDE, Gate, GatedBackend, script
else:  # loaded by path, under this name, by conftest.py
    from _httptransport_http2_gates import CANCEL, EXT, WIDE, Gate, GatedBackend, script

# The shared peer script (``/ok`` at once, ``/held`` once some stream has been reset,
# ``/never`` never), without opening the connection's window wide first.
_script = functools.partial(script, open_window=False)


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
                gate.hold(5)
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
    assert [(e.stream_id, e.error_code) for e in resets] == [(5, CANCEL)]


def _read_all(peer: typing.Any, index: int) -> None:
    """Open the connection's send window wide (the streams' come with SETTINGS), then
    read everything."""
    peer.h2.increment_flow_control_window(WIDE)
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
    peer = h2_peer(_read_all, settings={h2_settings.SettingCodes.INITIAL_WINDOW_SIZE: WIDE})
    gate = Gate()
    gate.hold(1)  # the first write (preface and HEADERS) never finishes
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
