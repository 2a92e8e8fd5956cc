"""Cancelling async calls propagates the loop's cancellation and leaks no socket."""

from __future__ import annotations

import ssl
import typing

import anyio
import pytest

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from collections.abc import Callable

    from netbackend_base.testing.harness import Net
    from netbackend_base.testing.servers import NeverAccepts, ThreadedServer

CANCEL_AFTER = 0.2


async def warm_up(net: Net, server: ThreadedServer) -> None:
    # One full connect/close first, so lazily created loop resources (thread pools,
    # wake-up pipes) exist before the descriptors are counted.
    stream = await net.connect_tcp(server.host, server.port, timeout=5)
    # The client's connect can return before the server thread has accepted.
    server.next_connection()
    await stream.close()
    server.close_connections()
    assert server.wait_idle()


async def test_cancelled_connect_leaks_no_socket(
    net: Net,
    never_accepts: NeverAccepts,
    silent_server: ThreadedServer,
    open_fds: Callable[[], int],
) -> None:
    """A connect cancelled while the SYN goes unanswered closes its socket."""
    net.require_async()
    await warm_up(net, silent_server)
    before = open_fds()
    with anyio.move_on_after(CANCEL_AFTER) as scope:
        await net.connect_tcp(never_accepts.host, never_accepts.port)
    assert scope.cancelled_caught, "the connect returned instead of hanging"
    assert open_fds() == before


async def test_cancelled_start_tls_leaks_no_socket(
    net: Net,
    silent_server: ThreadedServer,
    client_context: ssl.SSLContext,
    open_fds: Callable[[], int],
) -> None:
    """A TLS handshake cancelled while the server is silent closes the TCP stream under it."""
    net.require_async()
    await warm_up(net, silent_server)
    before = open_fds()
    plain = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    silent_server.next_connection()
    with anyio.move_on_after(CANCEL_AFTER) as scope:
        await plain.start_tls(client_context, server_hostname="localhost")
    assert scope.cancelled_caught
    silent_server.close_connections()
    # No aclose() here: the contract says cancellation already closed the stream.
    assert open_fds() == before


async def test_cancelled_read_leaks_no_socket(
    net: Net, silent_server: ThreadedServer, open_fds: Callable[[], int]
) -> None:
    """A read cancelled while waiting for data leaves a stream that aclose() fully releases."""
    net.require_async()
    await warm_up(net, silent_server)
    before = open_fds()
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    silent_server.next_connection()
    with anyio.move_on_after(CANCEL_AFTER) as scope:
        await stream.read(1024)
    assert scope.cancelled_caught
    await stream.close()
    silent_server.close_connections()
    assert open_fds() == before


async def test_cancelled_aclose_still_releases(
    net: Net, tcp_echo: ThreadedServer, open_fds: Callable[[], int]
) -> None:
    """aclose() called inside an already-cancelled scope still releases the socket."""
    net.require_async()
    await warm_up(net, tcp_echo)
    before = open_fds()
    stream = await net.connect_tcp(tcp_echo.host, tcp_echo.port, timeout=5)
    tcp_echo.next_connection()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await stream.close()
    assert tcp_echo.wait_idle(), "the server never saw the connection close"
    assert open_fds() == before


async def test_cancellation_is_not_mapped(net: Net, silent_server: ThreadedServer) -> None:
    """A cancelled read propagates the loop's cancellation, never a netbackend error."""
    net.require_async()
    stream = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    # Any exception other than the loop's cancellation would escape move_on_after.
    with anyio.move_on_after(CANCEL_AFTER) as scope:
        await stream.read(1024, timeout=30)
    assert scope.cancelled_caught
    await stream.close()
