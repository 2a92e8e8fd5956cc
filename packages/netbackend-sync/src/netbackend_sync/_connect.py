"""Opening sockets: name resolution under a deadline, and Happy Eyeballs (RFC 8305).

Theory of operation:

* One deadline, taken on entry, covers resolution and every connection attempt.
* ``socket.getaddrinfo`` has no timeout of its own. When there is a deadline and the host
  is a name rather than an IP literal, the lookup runs on a daemon thread and we stop
  waiting at the deadline; a late answer is dropped (it holds no socket).
* The addresses are ordered IPv6 first, then alternating families (RFC 8305 section 4).
  A single address is connected with a plain blocking ``connect``.
* Several addresses race without threads: each attempt is a non-blocking ``connect`` on
  its own socket, and one selector waits for whichever finishes first. A new attempt
  starts every ``netbackend_base.HAPPY_EYEBALLS_DELAY`` seconds (section 5), or at once when an
  attempt fails. The first socket to connect wins; on every way out (success, failure,
  timeout, ``KeyboardInterrupt``) every other socket is closed.
* Errors surface as ``OSError`` (``TimeoutError`` for the deadline); the backend maps
  them to :mod:`netbackend_base` exceptions at its boundary.
"""

from __future__ import annotations

import collections
import errno
import ipaddress
import os
import selectors
import socket
import threading
import time
import typing
from collections.abc import Iterable, Sequence

from netbackend_base import HAPPY_EYEBALLS_DELAY, new_socket, targets_from_addrinfo

if typing.TYPE_CHECKING:
    from netbackend_base import SOCKET_OPTION

__all__ = (
    "open_tcp_socket",
    "open_unix_socket",
)

Address = tuple[int, typing.Any]
"""``(family, sockaddr)`` of one candidate address."""

AddrInfo = tuple[int, int, int, str, typing.Any]

_IN_PROGRESS = frozenset(
    {errno.EINPROGRESS, errno.EWOULDBLOCK, getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}
)


def open_tcp_socket(
    host: str,
    port: int,
    timeout: float | None,
    local_address: str | None,
    socket_options: Iterable[SOCKET_OPTION] | None,
) -> socket.socket:
    """Resolve ``host`` and connect to the first address that answers.

    Returns:
        A connected socket with ``TCP_NODELAY`` on, blocking or with the timeout its
        connect used.

    Raises:
        TimeoutError: The deadline passed first.
        OSError: Resolution failed, no address fits ``local_address``'s family, or every
            attempt failed (the last attempt's error).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    # The options go to every attempt's socket, and the caller may hand us a generator.
    options = tuple(socket_options or ())
    addresses = targets_from_addrinfo(_resolve(host, port, deadline))
    local_family = None if local_address is None else _literal_family(local_address)
    if local_family is not None:
        addresses = [address for address in addresses if address[0] == local_family]
        if not addresses:
            raise OSError(f"no address of {host!r} in the family of {local_address!r}")
    if not addresses:
        raise OSError(f"no address found for {host!r}")
    if len(addresses) == 1:
        family, sockaddr = addresses[0]
        sock = new_socket(family, local_address, options)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(sockaddr)
        except BaseException:
            sock.close()
            raise
        return sock
    return _race(addresses, deadline, local_address, options)


def open_unix_socket(
    path: str, timeout: float | None, socket_options: Iterable[SOCKET_OPTION] | None
) -> socket.socket:
    """Connect to the Unix domain socket at ``path``.

    Raises:
        OSError: The connection failed (``TimeoutError`` for the timeout).
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _resolve(host: str, port: int, deadline: float | None) -> Sequence[AddrInfo]:
    if deadline is None or _literal_family(host) is not None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Sequence[AddrInfo] | Exception] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except Exception as exc:
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(_remaining(deadline)):
        raise TimeoutError(f"resolving {host!r} timed out")
    result = outcome[0]
    if isinstance(result, Exception):
        raise result
    return result


def _race(
    addresses: Sequence[Address],
    deadline: float | None,
    local_address: str | None,
    options: tuple[SOCKET_OPTION, ...],
) -> socket.socket:
    waiting = collections.deque(addresses)
    opened: list[socket.socket] = []
    winner: socket.socket | None = None
    last_error: OSError | None = None
    next_start = 0.0
    with selectors.DefaultSelector() as selector:
        try:
            while winner is None:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise TimeoutError("timed out connecting to every address")
                if waiting and (now >= next_start or not selector.get_map()):
                    family, sockaddr = waiting.popleft()
                    try:
                        sock = new_socket(family, local_address, options)
                        opened.append(sock)
                        sock.setblocking(False)
                        error = sock.connect_ex(sockaddr)
                    except OSError as exc:
                        last_error = exc
                        continue
                    if error == 0:
                        winner = sock
                    elif error in _IN_PROGRESS:
                        selector.register(sock, selectors.EVENT_WRITE)
                        next_start = now + HAPPY_EYEBALLS_DELAY
                    else:
                        last_error = _failure(sock, error)
                    continue
                if not selector.get_map():
                    assert last_error is not None  # every address was tried and failed
                    raise last_error
                wait = None if deadline is None else deadline - now
                if waiting:
                    wait = min(wait, next_start - now) if wait is not None else next_start - now
                for key, _events in selector.select(wait):
                    sock = typing.cast(socket.socket, key.fileobj)
                    selector.unregister(sock)
                    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error == 0:
                        winner = sock
                        break
                    last_error = _failure(sock, error)
                    next_start = 0.0  # a failed attempt starts the next one at once
            winner.setblocking(True)
        except BaseException:
            winner = None  # close it with the rest
            raise
        finally:
            for sock in opened:
                if sock is not winner:
                    sock.close()
    return winner


def _failure(sock: socket.socket, error: int) -> OSError:
    sock.close()
    return OSError(error, os.strerror(error))


def _literal_family(host: str) -> int | None:
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        return None
    return socket.AF_INET6 if version == 6 else socket.AF_INET


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)
