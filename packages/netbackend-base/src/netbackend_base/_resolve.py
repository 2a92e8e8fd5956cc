"""Name resolution for ``resolve``: the library-free steps, and the two default lookups.

Every backend's ``resolve`` takes the same steps whatever its event loop, and
:class:`Resolution` holds them once:

* An IP literal (IPv4, or IPv6 without brackets) is the answer itself: no lookup, so
  no thread and no resolver. A literal of the other family than the one asked for is a
  ``ConnectError``.
* A name is IDNA-encoded the way ``socket.getaddrinfo`` encodes a ``str`` (Python's
  ``idna`` codec, IDNA 2003), before any library sees it. anyio and trio would apply
  IDNA 2008 to non-ASCII names instead, so without this step ``resolve("faß.de")``
  would ask for another host than ``connect_tcp("faß.de")`` connects to, depending on
  the backend. A name the codec refuses (an empty label, one over 63 characters) fails
  here, the same on every backend, without reaching the system resolver.
* The answer keeps the distinct addresses of the asked family, in the resolver's order
  (the order of preference of RFC 6724 on most systems).
* Failures leave as ``ConnectError`` (``OSError``, ``socket.gaierror`` included, and
  ``UnicodeError``) or ``ConnectTimeout`` (``TimeoutError``), with the host named.

Only the lookup and the wait for it differ between backends. ``socket.getaddrinfo``
cannot be interrupted, so the defaults run it on a daemon thread when they must stop
waiting early (:func:`resolve_blocking` with a timeout, :func:`resolve_in_thread`
always) and walk away at the deadline or on cancellation; a late answer is dropped.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator

from ._exceptions import ConnectError, ConnectTimeout, _describe

__all__ = (
    "Resolution",
    "resolve_blocking",
    "resolve_in_thread",
)

AddrInfo = tuple[typing.Any, ...]
"""One entry of a ``getaddrinfo`` answer: ``(family, type, proto, canonname, sockaddr)``."""

_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_FAMILY_NAMES: dict[int, str] = {
    socket.AF_UNSPEC: "IP",
    socket.AF_INET: "IPv4",
    socket.AF_INET6: "IPv6",
}

# How the thread-backed async default polls: 1 ms first, so a fast answer (the hosts
# file, a warm cache) costs little latency, doubling to 50 ms, so a slow one costs few
# wake-ups (about 20 a second).
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.05
# The clock the polls are timed by (a name of this module's own, so that a test can
# drive the polling with a clock of its own without touching the event loop's).
_clock = time.monotonic


class Resolution:
    """The library-free steps of resolving one host (see the module docstring).

    A backend's ``resolve`` is then its lookup between these steps::

        resolution = Resolution(host, family, timeout)
        if resolution.literal is not None:
            return resolution.literal
        with resolution.errors():
            infos = ...  # getaddrinfo(resolution.name, None, family, SOCK_STREAM)
                         # within timeout; raise resolution.timed_out() when it passes
        return resolution.addresses(infos)

    Args:
        host: A host name, or an IP literal (IPv6 without brackets).
        family: ``socket.AF_UNSPEC`` (0), ``socket.AF_INET`` or ``socket.AF_INET6``.
        timeout: The caller's timeout, for the ``ConnectTimeout`` message.

    Raises:
        ConnectError: ``host`` is an IP literal outside ``family``, or a name the IDNA
            codec cannot encode.
        ValueError: ``family`` is not one of the three above.
    """

    __slots__ = ("family", "host", "literal", "name", "timeout")

    def __init__(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> None:
        if family not in _FAMILY_NAMES:
            raise ValueError(f"family must be AF_UNSPEC, AF_INET or AF_INET6, not {family!r}")
        self.host = host
        self.family = family
        self.timeout = timeout
        self.literal: list[str] | None = None
        """``[host]`` when ``host`` is an IP literal, else ``None``."""
        self.name = host
        """What to pass to ``getaddrinfo``: the IDNA-encoded (ASCII) name."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            literal_family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            if family not in (socket.AF_UNSPEC, literal_family):
                raise ConnectError(
                    f"{host!r} is an IPv{ip.version} address, not {_FAMILY_NAMES[family]}"
                )
            self.literal = [host]
            return
        with self.errors():
            self.name = host.encode("idna").decode("ascii")

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Map the failures of what runs inside to this package's exceptions.

        ``TimeoutError`` becomes ``ConnectTimeout``; ``OSError`` (``socket.gaierror``
        included) and ``UnicodeError`` become ``ConnectError``, named after the host.
        Anything else, the event loop's cancellation included, propagates unchanged.
        """
        try:
            yield
        except TimeoutError as exc:  # before OSError, its base class
            raise self.timed_out() from exc
        except (OSError, UnicodeError) as exc:
            raise ConnectError(f"could not resolve {self.host!r}: {_describe(exc)}") from exc

    def timed_out(self) -> ConnectTimeout:
        """The ``ConnectTimeout`` to raise when the lookup outlives the timeout."""
        return ConnectTimeout(f"resolving {self.host!r} took longer than {self.timeout} s")

    def addresses(self, infos: Iterable[AddrInfo]) -> list[str]:
        """The distinct addresses of the asked family in a ``getaddrinfo`` answer, in order.

        Raises:
            ConnectError: The answer holds no such address.
        """
        wanted = _FAMILIES if self.family == socket.AF_UNSPEC else (self.family,)
        found = dict.fromkeys(str(info[4][0]) for info in infos if info[0] in wanted)
        if not found:
            kind = _FAMILY_NAMES[self.family]
            raise ConnectError(f"could not resolve {self.host!r}: no {kind} address")
        return list(found)


def resolve_blocking(
    host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
) -> list[str]:
    """Resolve ``host`` with ``socket.getaddrinfo``, blocking the calling thread.

    Without a timeout the lookup runs in the calling thread. With one it runs on a daemon
    thread and the call stops waiting at the timeout (the thread finishes on its own).

    Raises:
        ConnectError: See :class:`Resolution`, or the lookup failed.
        ConnectTimeout: No answer within ``timeout``.
    """
    resolution = Resolution(host, family, timeout)
    if resolution.literal is not None:
        return resolution.literal
    with resolution.errors():
        if timeout is None:
            infos = socket.getaddrinfo(resolution.name, None, family, socket.SOCK_STREAM)
        else:
            lookup = _Lookup(resolution)
            if not lookup.done.wait(timeout):
                raise resolution.timed_out()
            infos = lookup.answer()
    return resolution.addresses(infos)


async def resolve_in_thread(
    host: str,
    family: int,
    timeout: float | None,
    sleep: Callable[[float], Awaitable[object]],
) -> list[str]:
    """Resolve ``host`` with ``socket.getaddrinfo`` on a daemon thread, polling for its answer.

    Needs nothing of the event loop but ``sleep``, so it serves any async backend.
    The polls grow from 1 ms to at most 50 ms and never pass the deadline. On a timeout
    or a cancellation the thread is abandoned; its late answer is dropped.

    Args:
        sleep: The backend's own ``sleep``, which must really wait.

    Raises:
        ConnectError: See :class:`Resolution`, or the lookup failed.
        ConnectTimeout: No answer within ``timeout``.
    """
    resolution = Resolution(host, family, timeout)
    if resolution.literal is not None:
        return resolution.literal
    deadline = None if timeout is None else _clock() + timeout
    with resolution.errors():
        lookup = _Lookup(resolution)
        delay = _FIRST_POLL
        while not lookup.done.is_set():
            wait = delay
            if deadline is not None:
                remaining = deadline - _clock()
                if remaining <= 0:
                    raise resolution.timed_out()
                wait = min(delay, remaining)
            await sleep(wait)
            delay = min(delay * 2, _LONGEST_POLL)
        infos = lookup.answer()
    return resolution.addresses(infos)


class _Lookup:
    """One ``socket.getaddrinfo`` call on a daemon thread; ``done`` is set once it returns."""

    __slots__ = ("_error", "_infos", "done")

    def __init__(self, resolution: Resolution) -> None:
        self.done = threading.Event()
        self._infos: list[AddrInfo] = []
        self._error: Exception | None = None
        thread = threading.Thread(
            target=self._run,
            args=(resolution.name, resolution.family),
            name=f"netbackend resolve {resolution.name}",
            daemon=True,
        )
        thread.start()

    def _run(self, name: str, family: int) -> None:
        try:
            # Looked up at call time (not bound at import) so that tests can patch it.
            self._infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
        except Exception as exc:
            self._error = exc
        finally:
            self.done.set()

    def answer(self) -> list[AddrInfo]:
        """The lookup's answer, once ``done`` is set; raises the lookup's exception."""
        if self._error is not None:
            raise self._error
        return self._infos
