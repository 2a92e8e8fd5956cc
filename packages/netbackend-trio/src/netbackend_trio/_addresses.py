"""Turning a host and port into the ordered list of addresses to try.

Kept free of any async library so that both the connect path and tests can use it.
"""

from __future__ import annotations

import ipaddress
import socket
import typing

__all__ = ("Target", "interleave", "numeric_targets", "targets_from_addrinfo")

Target = tuple[int, tuple[typing.Any, ...]]
"""An address family and the socket address to ``connect()`` to."""


def numeric_targets(host: str, port: int) -> list[Target] | None:
    """Return the single target for an IP literal, or ``None`` when ``host`` is a name.

    IP literals are handled here so that they never cost a worker thread.
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
        scope_index = int(scope) if scope.isdigit() else socket.if_nametoindex(scope)
    return [(socket.AF_INET6, (str(ip).split("%", 1)[0], port, 0, scope_index))]


def targets_from_addrinfo(
    infos: typing.Iterable[tuple[typing.Any, ...]],
) -> list[Target]:
    """Keep the IPv4/IPv6 stream addresses of a ``getaddrinfo`` result, in RFC 8305 order."""
    seen: set[tuple[int, tuple[typing.Any, ...]]] = set()
    targets: list[Target] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        key = (int(family), tuple(sockaddr))
        if key not in seen:
            seen.add(key)
            targets.append(key)
    return interleave(targets)


def interleave(targets: list[Target]) -> list[Target]:
    """Alternate address families, IPv6 first (RFC 8305 section 4), keeping each one's order."""
    v6 = [t for t in targets if t[0] == socket.AF_INET6]
    v4 = [t for t in targets if t[0] != socket.AF_INET6]
    ordered: list[Target] = []
    for index in range(max(len(v6), len(v4))):
        if index < len(v6):
            ordered.append(v6[index])
        if index < len(v4):
            ordered.append(v4[index])
    return ordered
