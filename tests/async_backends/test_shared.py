"""Behaviour every async backend shares: AnyIOBackend on asyncio and trio, TrioBackend on trio.

Each test takes the ``case`` fixture (see conftest.py) and runs once per variant; a variant
whose package is not installed is skipped.
"""

from __future__ import annotations

import pathlib
import socket
import ssl
import time
import types
import typing
from collections.abc import Callable

import anyio
import pytest

from netbackend_base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
)

if typing.TYPE_CHECKING:
    from .conftest import AsyncCase

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("package", "backend_name", "stream_name"),
    [
        pytest.param("netbackend_anyio", "AnyIOBackend", "AnyIOStream", id="anyio"),
        pytest.param("netbackend_trio", "TrioBackend", "TrioStream", id="trio"),
    ],
)
def test_exports(
    require: Callable[[str], types.ModuleType], package: str, backend_name: str, stream_name: str
) -> None:
    """The package re-exports the backend and stream classes in a tuple ``__all__``."""
    module = require(package)
    assert isinstance(module.__all__, tuple)
    assert {backend_name, stream_name} <= set(module.__all__)
    assert issubclass(getattr(module, backend_name), AsyncNetworkBackend)
    assert issubclass(getattr(module, stream_name), AsyncNetworkStream)


async def test_happy_eyeballs_falls_back_to_ipv4(
    case: AsyncCase, blackhole_port: int, dual_stack_name: str, fd_count: Callable[[], int]
) -> None:
    """When [::1] never answers, 127.0.0.1 wins after the stagger and the IPv6 loser is closed."""
    before = fd_count()
    started = time.monotonic()
    stream = await case.backend().connect_tcp(dual_stack_name, blackhole_port, timeout=5)
    elapsed = time.monotonic() - started
    try:
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", blackhole_port)
        assert 0.2 <= elapsed < 1.0
        assert fd_count() == before + 1
    finally:
        await stream.aclose()
    assert fd_count() == before


async def test_fast_failure_starts_next_attempt_at_once(
    case: AsyncCase, refused_port: int, dual_stack_name: str
) -> None:
    """A refused attempt starts the next one without waiting, and all failing is ConnectError."""
    started = time.monotonic()
    with pytest.raises(ConnectError):
        await case.backend().connect_tcp(dual_stack_name, refused_port)
    assert time.monotonic() - started < 0.2


async def test_cancelled_connect_leaves_no_socket(
    case: AsyncCase, blackhole_port: int, fd_count: Callable[[], int]
) -> None:
    """Cancelling a connect that is waiting on an address which never answers closes its socket."""
    before = fd_count()
    with anyio.move_on_after(0.1) as scope:
        await case.backend().connect_tcp("::1", blackhole_port)
    assert scope.cancelled_caught
    assert fd_count() == before


async def test_cancelled_happy_eyeballs_leaves_no_socket(
    case: AsyncCase, blackhole_port: int, dual_stack_name: str, fd_count: Callable[[], int]
) -> None:
    """Cancelling Happy Eyeballs before anyone wins closes every attempt's socket."""
    before = fd_count()
    with anyio.move_on_after(0.1) as scope:
        await case.backend().connect_tcp(dual_stack_name, blackhole_port)
    assert scope.cancelled_caught
    assert fd_count() == before


async def test_connect_timeout(
    case: AsyncCase, blackhole_port: int, fd_count: Callable[[], int]
) -> None:
    """A connect timeout raises ConnectTimeout and leaves no socket open."""
    before = fd_count()
    with pytest.raises(ConnectTimeout):
        await case.backend().connect_tcp("::1", blackhole_port, timeout=0.1)
    assert fd_count() == before


async def test_socket_options_and_nodelay(case: AsyncCase, echo_port: int) -> None:
    """Socket options given to connect are set on the socket, and TCP_NODELAY is on."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    stream = await case.backend().connect_tcp("127.0.0.1", echo_port, socket_options=options)
    try:
        sock = stream.get_extra_info("socket")
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        await stream.aclose()


async def test_bad_socket_option_is_connect_error(
    case: AsyncCase, echo_port: int, fd_count: Callable[[], int]
) -> None:
    """A socket option the OS rejects surfaces as ConnectError with no socket left open."""
    before = fd_count()
    with pytest.raises(ConnectError):
        await case.backend().connect_tcp(
            "127.0.0.1", echo_port, socket_options=[(socket.SOL_SOCKET, 0xBAD, 1)]
        )
    assert fd_count() == before


async def test_local_address(case: AsyncCase, echo_port: int) -> None:
    """``local_address`` binds the client side before connecting."""
    stream = await case.backend().connect_tcp("127.0.0.1", echo_port, local_address="127.0.0.1")
    try:
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        await stream.write(b"ping")
        assert await stream.read(100) == b"PING"
    finally:
        await stream.aclose()


async def test_read_timeout_needs_no_cancel_scope_without_timeout(
    case: AsyncCase, silent_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read/write without a timeout never open a cancel scope; with one they raise ReadTimeout."""
    stream = await case.backend().connect_tcp("127.0.0.1", silent_port)
    try:
        scopes: list[float | None] = []
        real = case.timer_module.move_on_after

        def counting(delay: float | None) -> typing.Any:
            scopes.append(delay)
            return real(delay)

        monkeypatch.setattr(case.timer_module, "move_on_after", counting)
        await stream.write(b"x")
        assert scopes == []
        with pytest.raises(ReadTimeout):
            await stream.read(10, timeout=0.05)
        if case.loop == "asyncio":
            # AnyIOBackend on asyncio times a wait with one loop timer, never a scope.
            assert scopes == []
        else:
            assert scopes == [0.05]
    finally:
        await stream.aclose()


async def test_tls_in_tls(
    case: AsyncCase, tls_in_tls_port: int, client_context: ssl.SSLContext
) -> None:
    """start_tls on a TLS stream nests a second session; 'socket' is still the raw socket."""
    client_context.set_alpn_protocols(["http/1.1"])
    options, verify = client_context.options, client_context.verify_mode
    plain = await case.backend().connect_tcp("127.0.0.1", tls_in_tls_port)
    outer = await plain.start_tls(client_context, "localhost", timeout=5)
    inner = await outer.start_tls(client_context, "localhost", timeout=5)
    try:
        await inner.write(b"nested")
        assert await inner.read(100) == b"NESTED"
        raw = inner.get_extra_info("socket")
        assert type(raw) is socket.socket
        assert raw is plain.get_extra_info("socket")
        assert inner.get_extra_info("ssl_object") is not outer.get_extra_info("ssl_object")
        assert inner.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        assert inner.get_extra_info("server_addr") == ("127.0.0.1", tls_in_tls_port)
        assert inner.get_extra_info("no such key") is None
    finally:
        await inner.aclose()
    assert raw.fileno() == -1
    assert (client_context.options, client_context.verify_mode) == (options, verify)


async def test_untrusted_certificate_closes_stream(case: AsyncCase, tls_echo_port: int) -> None:
    """A certificate from an untrusted CA is ConnectError and closes the socket."""
    stream = await case.backend().connect_tcp("127.0.0.1", tls_echo_port)
    with pytest.raises(ConnectError):
        await stream.start_tls(ssl.create_default_context(), "localhost", timeout=5)
    assert stream.get_extra_info("socket").fileno() == -1


async def test_wrong_hostname_with_trusted_ca(
    case: AsyncCase, tls_echo_port: int, client_context: ssl.SSLContext
) -> None:
    """A trusted certificate that does not match server_hostname is ConnectError."""
    stream = await case.backend().connect_tcp("127.0.0.1", tls_echo_port)
    with pytest.raises(ConnectError):
        await stream.start_tls(client_context, "not-the-server.test", timeout=5)


async def test_cancelled_start_tls_closes_stream(
    case: AsyncCase, silent_port: int, client_context: ssl.SSLContext
) -> None:
    """A handshake cancelled midway (or timed out) closes the underlying socket."""
    stream = await case.backend().connect_tcp("127.0.0.1", silent_port)
    raw = stream.get_extra_info("socket")
    with anyio.move_on_after(0.05) as scope:
        await stream.start_tls(client_context, "localhost")
    assert scope.cancelled_caught
    assert raw.fileno() == -1

    stream = await case.backend().connect_tcp("127.0.0.1", silent_port)
    raw = stream.get_extra_info("socket")
    with pytest.raises(ConnectTimeout):
        await stream.start_tls(client_context, "localhost", timeout=0.05)
    assert raw.fileno() == -1


async def test_tls_eof_without_close_notify(
    case: AsyncCase,
    serve: Callable[..., int],
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
) -> None:
    """A TLS peer that drops the connection without close_notify reads as EOF, not an error."""

    def handler(conn: socket.socket) -> None:
        with server_context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"bye")
            # A socket-level shutdown: the TLS layer sends no close_notify.
            tls.shutdown(socket.SHUT_RDWR)

    port = serve(handler)
    stream = await case.backend().connect_tcp("127.0.0.1", port)
    tls = await stream.start_tls(client_context, "localhost", timeout=5)
    try:
        received = b""
        while chunk := await tls.read(100, timeout=5):
            received += chunk
        assert received == b"bye"
        assert tls.get_extra_info("is_readable") is True
    finally:
        await tls.aclose()


async def test_is_readable_tracks_peer_close(case: AsyncCase, serve: Callable[..., int]) -> None:
    """is_readable is False on an idle connection and True once the peer has closed it."""

    def handler(conn: socket.socket) -> None:
        conn.recv(1)
        conn.shutdown(socket.SHUT_WR)

    port = serve(handler)
    stream = await case.backend().connect_tcp("127.0.0.1", port)
    try:
        assert stream.get_extra_info("is_readable") is False
        await stream.write(b"!")
        assert await stream.read(10, timeout=5) == b""
        assert stream.get_extra_info("is_readable") is True
    finally:
        await stream.aclose()


async def test_aclose_is_idempotent_and_releases_when_cancelled(
    case: AsyncCase, silent_port: int, fd_count: Callable[[], int]
) -> None:
    """aclose twice is harmless, and closing inside a cancelled scope still frees the fd."""
    before = fd_count()
    stream = await case.backend().connect_tcp("127.0.0.1", silent_port)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await stream.aclose()
    await stream.aclose()
    assert stream.get_extra_info("client_addr") is None
    assert fd_count() == before


async def test_unix_socket(case: AsyncCase, tmp_path: pathlib.Path) -> None:
    """connect_unix_socket reaches a Unix listener, and a missing path is ConnectError."""
    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets")
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(1)
        stream = await case.backend().connect_unix_socket(path, timeout=5)
        try:
            assert stream.get_extra_info("server_addr") == path
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"hi")
                assert await stream.read(10, timeout=5) == b"hi"
        finally:
            await stream.aclose()
    with pytest.raises(ConnectError):
        await case.backend().connect_unix_socket(path + ".missing")
