"""Library-free pieces of opening a socket, shared by every backend.

A backend needs the same steps whatever its event loop: order the resolved addresses
for Happy Eyeballs (RFC 8305), create each socket with ``TCP_NODELAY`` and the caller's
options set *before* ``connect()`` (``SO_RCVBUF`` sizes the window scale announced in
the SYN; ``SO_REUSEADDR`` must precede ``bind``), bind the local address, and drive a
non-blocking ``connect`` to completion. Only the wait for writability differs between
libraries, so :func:`connect_socket` takes it as an argument.

Everything here raises ``OSError``; backends map it at their boundary.
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import os
import select
import socket
import typing
from collections.abc import Awaitable, Callable, Iterable

from ._exceptions import ConnectError

if typing.TYPE_CHECKING:
    from ._interfaces import SOCKET_OPTION

__all__ = (
    "HAPPY_EYEBALLS_DELAY",
    "SocketTarget",
    "connect_socket",
    "interleave_targets",
    "new_socket",
    "numeric_targets",
    "poll_readable",
    "socket_info",
    "targets_from_addrinfo",
)

HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds between the starts of two connection attempts (RFC 8305 section 5)."""

SocketTarget = tuple[int, tuple[typing.Any, ...]]
"""An address family and the socket address to ``connect()`` to."""

_IN_PROGRESS = frozenset({errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EALREADY})


def numeric_targets(host: str, port: int) -> list[SocketTarget] | None:
    """Return the one target for an IP literal, or ``None`` when ``host`` is a name.

    Lets a backend skip the resolver (and its worker thread) for literals.

    Raises:
        ConnectError: An IPv6 literal's zone (``fe80::1%eth9``) names no interface.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return [(socket.AF_INET, (host, port))]
    scope = ip.scope_id
    scope_index = 0
    if scope:
        try:
            scope_index = int(scope) if scope.isdigit() else socket.if_nametoindex(scope)
        except OSError as exc:
            raise ConnectError(f"{host!r} names no network interface of this machine") from exc
    return [(socket.AF_INET6, (str(ip).split("%", 1)[0], port, 0, scope_index))]


def targets_from_addrinfo(infos: Iterable[tuple[typing.Any, ...]]) -> list[SocketTarget]:
    """Keep the IPv4/IPv6 addresses of a ``getaddrinfo`` result, deduplicated, in RFC 8305 order."""
    seen: set[SocketTarget] = set()
    targets: list[SocketTarget] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (int(family), tuple(sockaddr))
        if key not in seen:
            seen.add(key)
            targets.append(key)
    return interleave_targets(targets)


def interleave_targets(targets: Iterable[SocketTarget]) -> list[SocketTarget]:
    """Alternate address families, IPv6 first (RFC 8305 section 4), keeping each one's order."""
    v6: list[SocketTarget] = []
    v4: list[SocketTarget] = []
    for target in targets:
        (v6 if target[0] == socket.AF_INET6 else v4).append(target)
    pairs = itertools.zip_longest(v6, v4)
    return [target for pair in pairs for target in pair if target is not None]


def new_socket(
    family: int,
    local_address: str | None = None,
    socket_options: Iterable[SOCKET_OPTION] = (),
) -> socket.socket:
    """Create a stream socket ready to connect: options set, local address bound.

    ``TCP_NODELAY`` is set first (for TCP), so the caller's options may turn it off.
    The socket is closed if any step fails.
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options:
            sock.setsockopt(*option)
        if local_address is not None:
            sock.bind((local_address, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_socket(
    target: SocketTarget,
    local_address: str | None,
    socket_options: Iterable[SOCKET_OPTION],
    wait_writable: Callable[[socket.socket], Awaitable[object]],
) -> socket.socket:
    """Create, configure and connect one non-blocking socket.

    Args:
        target: The family and address (``(path,)`` for ``AF_UNIX``).
        wait_writable: The event loop's "wait until this socket is writable"
            (``trio.lowlevel.wait_writable``, ``anyio.wait_writable``, ...).

    Returns:
        The connected socket, non-blocking.

    Raises:
        OSError: The connection failed. On any failure or cancellation the socket is
            closed before the exception propagates.
    """
    family, address = target
    sock = new_socket(family, local_address, socket_options)
    try:
        sock.setblocking(False)
        destination = address[0] if family == socket.AF_UNIX else address
        while True:
            code = sock.connect_ex(destination)
            if code in (0, errno.EISCONN):
                return sock
            if code not in _IN_PROGRESS:
                raise OSError(code, os.strerror(code))
            await wait_writable(sock)
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            if family != socket.AF_UNIX:
                return sock
            # A Unix socket with a full backlog says EAGAIN without starting to
            # connect: ask again once it looks writable.
    except BaseException:
        sock.close()
        raise


def socket_info(sock: socket.socket, info: str) -> typing.Any:
    """Answer the socket-level ``get_extra_info`` keys for a stream over ``sock``.

    ``"socket"`` is ``sock``; ``"client_addr"`` and ``"server_addr"`` are the local and
    peer addresses as ``(host, port)`` (IPv6 flow info and scope id dropped), or the path
    of a Unix socket, or ``None`` once the socket is closed. Any other key: ``None``.
    """
    if info == "socket":
        return sock
    if info == "client_addr":
        getter = sock.getsockname
    elif info == "server_addr":
        getter = sock.getpeername
    else:
        return None
    try:
        address = getter()
    except OSError:
        return None
    if isinstance(address, tuple):
        return address[:2]
    if isinstance(address, bytes):
        return address.decode(errors="replace")
    return address


def poll_readable(sock: socket.socket) -> bool:
    """Tell, without waiting, whether a read of ``sock`` would not block.

    ``True`` when data or the peer's EOF is queued, when the connection failed (a read
    would fail at once), and for a closed socket.
    """
    if sock.fileno() < 0:
        return True
    try:
        if _HAS_POLL:
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


# select() cannot watch descriptors above FD_SETSIZE; poll() can, but Windows lacks it.
_HAS_POLL = hasattr(select, "poll")
