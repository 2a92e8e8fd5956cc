"""The trio backend: connects TCP and Unix sockets, with Happy Eyeballs for TCP."""

from __future__ import annotations

import math
import socket
import typing

import trio

from netbackend_base import (
    HAPPY_EYEBALLS_DELAY,
    SOCKET_OPTION,
    AsyncNetworkBackend,
    ConnectError,
    ConnectTimeout,
    Resolution,
    SocketTarget,
    connect_socket,
    numeric_targets,
    targets_from_addrinfo,
)

from ._stream import TrioStream, describe

__all__ = ("TrioBackend",)


class TrioBackend(AsyncNetworkBackend):
    """Opens streams with trio's own sockets and TLS (no anyio layer).

    The backend holds no state; one instance can be shared by any number of tasks.
    """

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> TrioStream:
        """Open a TCP connection to ``host``:``port``.

        A name is resolved with ``socket.getaddrinfo`` in a worker thread; an IP literal
        is used as is. Several addresses are tried with Happy Eyeballs (RFC 8305): IPv6
        and IPv4 alternate, a new attempt starts every 250 ms or as soon as the previous
        one fails, the first to connect wins and the others are closed. ``TCP_NODELAY``
        is on.

        Args:
            host: Host name or IP address.
            port: TCP port.
            timeout: Limit for resolution and connecting together.
            local_address: Local IP address to bind to before connecting.
            socket_options: ``setsockopt`` arguments, applied before ``connect()``.

        Returns:
            The connected stream.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: Resolution failed, or every address failed.
        """
        options = list(socket_options or ())
        sock: socket.socket | None = None
        if timeout is None:
            sock = await _connect_tcp(host, port, local_address, options)
        else:
            with trio.move_on_after(timeout):
                sock = await _connect_tcp(host, port, local_address, options)
            if sock is None:
                raise ConnectTimeout(f"could not connect to {host}:{port} within {timeout} s")
        return await _wrap(sock, unix=False)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None = None,
    ) -> TrioStream:
        """Open a connection to the Unix domain socket at ``path``.

        Args:
            path: File system path of the socket.
            timeout: Limit for connecting.
            socket_options: ``setsockopt`` arguments, applied before ``connect()``.

        Returns:
            The connected stream.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: No such socket, or the connection was refused.
        """
        options = list(socket_options or ())
        target: SocketTarget = (socket.AF_UNIX, (path,))
        sock: socket.socket | None = None
        try:
            if timeout is None:
                sock = await _attempt(target, None, options)
            else:
                with trio.move_on_after(timeout):
                    sock = await _attempt(target, None, options)
        except OSError as exc:
            raise ConnectError(describe(exc)) from exc
        if sock is None:
            raise ConnectTimeout(f"could not connect to {path!r} within {timeout} s")
        return await _wrap(sock, unix=True)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        """Resolve ``host`` with ``trio.socket.getaddrinfo``.

        trio's resolver runs the lookup in a worker thread, or in the custom resolver
        set with ``trio.socket.set_custom_hostname_resolver``. An IP literal is
        returned as ``[host]`` without a lookup. A name is IDNA-encoded as
        ``socket.getaddrinfo`` would encode it (IDNA 2003, as ``connect_tcp`` does)
        before trio sees it, so it names the host ``connect_tcp`` would connect to.

        Args:
            host: Host name or IP literal (IPv6 without brackets).
            family: ``socket.AF_UNSPEC``, ``socket.AF_INET`` or ``socket.AF_INET6``.
            timeout: Limit for the lookup (a trio cancel scope); the worker thread is
                abandoned when it passes.

        Returns:
            The distinct addresses of ``family``, in the resolver's order.

        Raises:
            ConnectTimeout: No answer within ``timeout``.
            ConnectError: The name does not resolve, cannot be encoded, or is an IP
                literal outside ``family``.
        """
        resolution = Resolution(host, family, timeout)
        if resolution.literal is not None:
            return resolution.literal
        with resolution.errors():
            with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                infos = await trio.socket.getaddrinfo(
                    resolution.name, None, family, socket.SOCK_STREAM
                )
            if scope.cancelled_caught:
                raise resolution.timed_out()
        return resolution.addresses(infos)

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking the event loop."""
        await trio.sleep(seconds)


async def _wrap(sock: socket.socket, *, unix: bool) -> TrioStream:
    # Plain wrappers: nothing here blocks, fails on a connected socket, or checkpoints.
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
    return TrioStream(stream, sock)


async def _resolve(host: str, port: int) -> list[SocketTarget]:
    targets = numeric_targets(host, port)
    if targets is not None:
        return targets
    try:
        # Looked up at call time (not bound at import) so that tests can patch it; the
        # thread is abandoned on cancellation because getaddrinfo cannot be interrupted.
        infos = await trio.to_thread.run_sync(
            socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM, abandon_on_cancel=True
        )
    except (OSError, UnicodeError) as exc:  # (UnicodeError: no IDNA form, a label too long)
        raise ConnectError(f"could not resolve {host!r}: {describe(exc)}") from exc
    targets = targets_from_addrinfo(infos)
    if not targets:
        raise ConnectError(f"{host!r} has no IPv4 or IPv6 address")
    return targets


async def _connect_tcp(
    host: str, port: int, local_address: str | None, options: list[SOCKET_OPTION]
) -> socket.socket:
    targets = await _resolve(host, port)
    if local_address is not None:
        local = numeric_targets(local_address, 0)
        if local is not None:
            # A socket of the other family could not bind to it anyway.
            targets = [t for t in targets if t[0] == local[0][0]] or targets
    if len(targets) == 1:
        try:
            return await _attempt(targets[0], local_address, options)
        except OSError as exc:
            raise ConnectError(describe(exc)) from exc
    return await _happy_eyeballs(targets, local_address, options)


async def _happy_eyeballs(
    targets: list[SocketTarget], local_address: str | None, options: list[SOCKET_OPTION]
) -> socket.socket:
    winners: list[socket.socket] = []
    errors: list[OSError] = []

    async def attempt(
        target: SocketTarget, failed: trio.Event, cancel_scope: trio.CancelScope
    ) -> None:
        try:
            sock = await _attempt(target, local_address, options)
        except OSError as exc:
            errors.append(exc)
            failed.set()
            return
        if winners:
            # Two attempts finished in the same scheduling batch: the first one wins.
            sock.close()
            return
        winners.append(sock)
        cancel_scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            for target in targets:
                failed = trio.Event()
                nursery.start_soon(attempt, target, failed, nursery.cancel_scope)
                with trio.move_on_after(HAPPY_EYEBALLS_DELAY):
                    await failed.wait()
    except BaseException:
        # Cancelled from outside after an attempt had already won: do not leak it.
        for sock in winners:
            sock.close()
        raise
    if winners:
        return winners[0]
    raise ConnectError(_summary(errors)) from (errors[-1] if errors else None)


def _summary(errors: list[OSError]) -> str:
    if not errors:
        return "connection failed"
    if len(errors) == 1:
        return describe(errors[0])
    return "all addresses failed: " + "; ".join(describe(exc) for exc in errors)


async def _attempt(
    target: SocketTarget, local_address: str | None, options: list[SOCKET_OPTION]
) -> socket.socket:
    """Create, configure and connect one socket; it is closed on any failure or cancel."""
    return await connect_socket(target, local_address, options, trio.lowlevel.wait_writable)
