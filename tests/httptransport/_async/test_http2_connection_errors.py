"""HTTP/2 errors that end a connection: malformed frames, server hang-ups, failed connects."""

from __future__ import annotations

import typing

import pytest

from httptransport import (
    AsyncConnectionPool,
    ConnectError,
    ReadError,
    RemoteProtocolError,
    WriteError,
)

h2_events = pytest.importorskip("h2.events")
netbackend_mock = pytest.importorskip("netbackend_mock")


def _garbage(peer: typing.Any, index: int) -> None:
    """Answer with a DATA frame on stream 0, which is a connection error."""
    peer.requests(1)
    peer.sock.sendall(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x")
    peer.events()


@pytest.mark.anyio
async def test_protocol_error_closes_only_that_connection(
    h2_peer: typing.Any, h2_server: typing.Any
) -> None:
    """A malformed frame is a RemoteProtocolError; the connection goes, others stay."""
    bad = h2_peer(_garbage)
    good = h2_server(tls=False)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        assert (await pool.request("GET", good.url())).content == b"hello"
        with pytest.raises(RemoteProtocolError):
            await pool.request("GET", bad.url())
        assert len(pool.connections) == 1
        assert (await pool.request("GET", good.url())).content == b"hello"


def _hang_up(peer: typing.Any, index: int) -> None:
    """Read the request, then close the socket."""
    peer.requests(1)


@pytest.mark.anyio
async def test_server_hangup_is_remote_protocol_error(h2_peer: typing.Any) -> None:
    """EOF before the response is a RemoteProtocolError and the connection is dropped."""
    peer = h2_peer(_hang_up)
    async with AsyncConnectionPool(http1=False, http2=True) as pool:
        # EOF, or a reset if our last frames were still unread when it closed.
        with pytest.raises((RemoteProtocolError, ReadError)):
            await pool.request("GET", peer.url())
        assert pool.connections == []


@pytest.mark.anyio
async def test_failed_connect_fails_every_request_sharing_it(concurrently: typing.Any) -> None:
    """Requests sharing a connection that fails to connect all fail with the connect error."""
    errors: list[Exception] = []

    class Refusing(netbackend_mock.AsyncMockBackend):  # type: ignore[misc,name-defined]
        """Refuses every connect."""

        async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
            raise ConnectError("refused")

    async with AsyncConnectionPool(
        network_backend=Refusing([]), http1=False, http2=True, max_connections=1
    ) as pool:

        async def one() -> None:
            try:
                await pool.request("GET", "http://example.com/")
            except Exception as exc:
                errors.append(exc)

        await concurrently(one, 3)
        assert pool.connections == []
    assert [type(e) for e in errors] == [ConnectError] * 3


def _hang_up_after(count: int) -> typing.Callable[[typing.Any, int], None]:
    def script(peer: typing.Any, index: int) -> None:
        """Wait for ``count`` requests (heads only), then hang up."""
        seen = 0
        while seen < count:
            events = peer.events()
            if not events:
                return
            seen += sum(isinstance(e, h2_events.RequestReceived) for e in events)

    return script


@pytest.mark.anyio
async def test_hangup_fails_every_waiting_request(
    h2_peer: typing.Any, concurrently: typing.Any
) -> None:
    """When the server goes away, waiting requests and blocked uploads all fail."""
    peer = h2_peer(_hang_up_after(3))
    errors: list[Exception] = []
    async with AsyncConnectionPool(http1=False, http2=True) as pool:

        async def one() -> None:
            try:
                await pool.request("POST", peer.url("/"), content=b"x" * 200_000)
            except Exception as exc:
                errors.append(exc)

        await concurrently(one, 3)
        assert pool.connections == []
    assert len(errors) == 3
    assert all(isinstance(e, (RemoteProtocolError, ReadError, WriteError)) for e in errors)
