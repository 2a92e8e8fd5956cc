# unasync: async-only
"""HTTP/2 requests cancelled while waiting reset their streams (asyncio and trio)."""

from __future__ import annotations

import typing

import pytest

from httptransport import AsyncConnectionPool

anyio = pytest.importorskip("anyio")
h2_events = pytest.importorskip("h2.events")


def _head_only(peer: typing.Any, index: int) -> None:
    """Answer ``/ok``; give anything else a head and no body, for ever."""
    while True:
        events = peer.events()
        if not events:
            return
        for event in events:
            if isinstance(event, h2_events.RequestReceived):
                if dict(event.headers)[b":path"] == b"/ok":
                    peer.respond(event.stream_id, b"done")
                else:
                    peer.h2.send_headers(event.stream_id, [(b":status", b"200")])
                    peer.flush()


@pytest.mark.anyio
async def test_cancelled_requests_reset_their_streams(h2_peer: typing.Any) -> None:
    """Requests cancelled mid-body reset their streams; the connection keeps working."""
    peer = h2_peer(_head_only)
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        for _ in range(30):
            async with anyio.create_task_group() as tg:

                async def request(scope: typing.Any = tg.cancel_scope) -> None:
                    async with pool.stream("GET", peer.url("/hang")) as response:
                        scope.cancel()
                        await response.aread()

                tg.start_soon(request)
        response = await pool.request("GET", peer.url("/ok"))
        assert response.content == b"done"
        assert len(pool.connections) == 1
    resets = [e for e in peer.connections[0].received if isinstance(e, h2_events.StreamReset)]
    assert len(resets) == 30


@pytest.mark.anyio
async def test_cancelled_while_waiting_for_the_head(h2_peer: typing.Any) -> None:
    """A request cancelled before any response arrives resets its stream too."""
    seen = anyio.Event()

    def silent(peer: typing.Any, index: int) -> None:
        _head_only(peer, index)

    peer = h2_peer(silent)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"
        with anyio.move_on_after(0.2):
            # /hang gets a head, then nothing; the read of the body is what is cancelled.
            await pool.request("GET", peer.url("/hang"))
        seen.set()
        assert (await pool.request("GET", peer.url("/ok"))).content == b"done"
        assert len(pool.connections) == 1
