# Generated from packages/httptransport/src/httptransport/_async/http_tunnel.py by scripts/unasync.py: do not edit.  # noqa: E501
"""Tunnels through an HTTP(S) proxy with ``CONNECT``: :class:`HTTPTunnelBackend`.

The ``CONNECT`` request (RFC 9110 section 9.3.6) is written by hand, with the proxy
headers (``Proxy-Authorization`` included) checked once when the pool is built. The
proxy's reply is read up to the end of its head; any 2xx opens the tunnel, and bytes
the proxy sent beyond the head are replayed first (:class:`HTTP11UpgradeStream`).
"""

from __future__ import annotations

import logging
import re
import ssl

from netbackend_base import (
    ConnectTimeout,
    NetworkBackend,
    NetworkStream,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

from .._exceptions import ProxyError
from .._models import URL
from .._proxy_model import authority, redact_headers
from .._trace import Trace
from .connection import HTTPConnection
from .tunnel import ProxyBackend
from .upgrade_stream import HTTP11UpgradeStream

__all__ = ("HTTPTunnelBackend", "TunnelHTTPConnection")

logger = logging.getLogger("httptransport.proxy")

# A proxy's reply head larger than this is not a reply we can use.
_MAX_REPLY_HEAD = 64 * 1024
_READ_NUM_BYTES = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: ([^\r\n]*))?")


def _handshake_error(exc: Exception, what: str) -> Exception:
    """Map an I/O error during a proxy handshake to what the caller should see.

    Timeouts become :class:`ConnectTimeout` (the handshake is part of connecting, and
    the connection's ``retries`` apply to it); a broken connection is the proxy's
    fault and becomes :class:`ProxyError`.
    """
    if isinstance(exc, (ReadTimeout, WriteTimeout, ConnectTimeout)):
        return ConnectTimeout(f"Timed out during the {what}.")
    return ProxyError(f"The proxy broke the connection during the {what}: {exc}")


class HTTPTunnelBackend(ProxyBackend):
    """Tunnels through an HTTP(S) proxy with ``CONNECT``.

    Args:
        proxy_url: The proxy.
        proxy_headers: Headers for the ``CONNECT`` request (``Proxy-Authorization``
            included), already checked.
        network_backend: The real backend.
        proxy_ssl_context: TLS settings for an ``https://`` proxy.
        uds: Reach the proxy through this Unix socket.
    """

    def __init__(
        self,
        proxy_url: URL,
        proxy_headers: list[tuple[bytes, bytes]],
        network_backend: NetworkBackend | None = None,
        proxy_ssl_context: ssl.SSLContext | None = None,
        uds: str | None = None,
    ) -> None:
        super().__init__(proxy_url, network_backend, proxy_ssl_context, uds)
        self._proxy_headers = proxy_headers

    def handshake(
        self, stream: NetworkStream, host: str, port: int, timeout: float | None
    ) -> NetworkStream:
        """Send ``CONNECT host:port`` and read the proxy's answer.

        Raises:
            ConnectTimeout: The proxy did not answer within ``timeout``.
            ProxyError: The proxy refused (its status is in the message), hung up, or
                did not answer with HTTP.
        """
        target = authority(host.encode("ascii"), port)
        headers = [(b"Host", target), *self._proxy_headers]
        head = b"".join(
            [b"CONNECT %b HTTP/1.1\r\n" % target]
            + [b"%b: %b\r\n" % (name, value) for name, value in headers]
            + [b"\r\n"]
        )
        info = {"target": target, "headers": redact_headers(headers)}
        with Trace("send_connect_request", logger, None, info) as trace:
            try:
                stream.write(head, timeout)
                reply = self._read_head(stream, timeout)
            except (ReadError, ReadTimeout, WriteError, WriteTimeout) as exc:
                raise _handshake_error(exc, "CONNECT handshake") from exc
            trace.return_value = reply[:2]
        status, reason, leftover = reply
        if not 200 <= status < 300:
            # httpcore's message: the proxy's status line, as it sent it.
            raise ProxyError(f"{status} {reason.decode('ascii', 'ignore')}")
        if leftover:
            return HTTP11UpgradeStream(stream, leftover)
        return stream

    @staticmethod
    def _read_head(stream: NetworkStream, timeout: float | None) -> tuple[int, bytes, bytes]:
        buffer = b""
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(buffer) > _MAX_REPLY_HEAD:
                raise ProxyError("The proxy's reply to CONNECT has an oversized head.")
            chunk = stream.read(_READ_NUM_BYTES, timeout)
            if not chunk:
                if buffer:
                    raise ProxyError(
                        f"The proxy closed the connection in the middle of its reply to "
                        f"CONNECT: {buffer[:80]!r}"
                    )
                raise ProxyError(
                    "The proxy closed the connection without answering the CONNECT request."
                )
            buffer += chunk
            # Garbage is recognised as soon as it cannot be a status line.
            if len(buffer) >= 12 and _STATUS_LINE.match(buffer) is None:
                raise ProxyError(
                    f"The proxy answered the CONNECT request with something other than "
                    f"HTTP/1.x: {buffer[:80]!r}"
                )
        match = _STATUS_LINE.match(buffer)
        if match is None:
            raise ProxyError(
                f"The proxy answered the CONNECT request with something other than "
                f"HTTP/1.x: {buffer[:80]!r}"
            )
        return int(match.group(1)), match.group(2) or b"", buffer[end + 4 :]


class TunnelHTTPConnection(HTTPConnection):
    """A connection to an origin through an HTTP proxy's ``CONNECT`` tunnel.

    An :class:`HTTPConnection` whose backend opens tunnels; the class exists so that
    a pool's connections are named as httpcore names them.
    """
