"""The blocking-socket backend."""

from __future__ import annotations

import typing
from collections.abc import Iterable

from netbackend_base import NetworkBackend

from ._connect import open_tcp_socket, open_unix_socket
from ._errors import CONNECT_ERRORS, reraise
from ._sessions import SESSIONS
from ._stream import SyncStream

if typing.TYPE_CHECKING:
    from netbackend_base import SOCKET_OPTION

__all__ = ("SyncBackend",)


class SyncBackend(NetworkBackend):
    """Opens :class:`SyncStream` connections over blocking sockets.

    Implements :class:`netbackend_base.NetworkBackend`; its contract applies. One
    instance can serve any number of threads.

    TLS sessions are resumed: a session from an earlier connection through the same
    ``SSLContext`` to the same server (name, address, port) is offered on the next one,
    which then skips the certificate exchange. A server seen to refuse resumption is not
    offered sessions again for a while. Pass ``tls_session_reuse=False`` for a full
    handshake every time.
    """

    def __init__(self, *, tls_session_reuse: bool = True) -> None:
        self._sessions = SESSIONS if tls_session_reuse else None

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> SyncStream:
        """Open a TCP connection, racing the addresses of ``host`` (Happy Eyeballs).

        Attempts start IPv6 first, alternating families, 250 ms apart or as soon as the
        previous one fails; the first to connect wins and the others are closed.

        Args:
            local_address: The local IP to bind to (port 0) before connecting; only
                addresses of its family are tried.
            socket_options: Applied before ``bind()`` and ``connect()``, after
                ``TCP_NODELAY`` is turned on.
            timeout: Covers name resolution and every attempt.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: Resolution failed, or every address refused or was
                unreachable (the message names the last error).
        """
        try:
            sock = open_tcp_socket(host, port, timeout, local_address, socket_options)
        except (OSError, ValueError):
            reraise(CONNECT_ERRORS)
        return SyncStream(sock, self._sessions)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> SyncStream:
        """Open a Unix domain socket connection to ``path``.

        Args:
            socket_options: Applied before ``connect()``.

        Raises:
            ConnectTimeout: No connection within ``timeout``.
            ConnectError: No such socket, or the connection was refused.
        """
        try:
            sock = open_unix_socket(path, timeout, socket_options)
        except (OSError, ValueError):
            reraise(CONNECT_ERRORS)
        return SyncStream(sock, self._sessions)
