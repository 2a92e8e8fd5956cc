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

from .._exceptions import LocalProtocolError, ProxyError
from .._headers import valid_target
from .._models import URL, Request
from .._proxy_model import RedactedHeaders, authority
from .._trace import Trace
from .tunnel import ProxyBackend, TunnelledConnection
from .upgrade_stream import HTTP11UpgradeStream

__all__ = ("HTTPTunnelBackend", "TunnelHTTPConnection")

logger = logging.getLogger("httptransport.proxy")
h11_logger = logging.getLogger("httptransport.http11")

# A proxy's reply head larger than this is not a reply we can use.
_MAX_REPLY_HEAD = 64 * 1024
_READ_NUM_BYTES = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n]*))?")


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
        self,
        stream: NetworkStream,
        host: str,
        port: int,
        timeout: float | None,
        request: Request | None = None,
    ) -> NetworkStream:
        """Send ``CONNECT host:port`` and read the proxy's answer.

        With ``request``, the exchange is reported as httpcore reports its ``CONNECT``
        request: ``http11.send_request_headers``, ``http11.send_request_body`` and
        ``http11.receive_response_headers`` of a ``CONNECT`` :class:`Request` that
        carries ``request``'s extensions (its repr shows no header).

        Raises:
            LocalProtocolError: ``host`` cannot be written into a request head.
            ConnectTimeout: The proxy did not answer within ``timeout``.
            ProxyError: The proxy refused (its status is in the message), hung up, or
                did not answer with HTTP.
        """
        target = authority(host.encode("ascii"), port)
        if valid_target(target) is None:
            # A host with whitespace or a line break would inject lines into the head.
            raise LocalProtocolError(f"Invalid host for a CONNECT request: {host!r}.")
        # httpcore's CONNECT headers: Host, Accept, then the proxy headers.
        headers = [(b"Host", target), (b"Accept", b"*/*"), *self._proxy_headers]
        head = b"".join(
            [b"CONNECT %b HTTP/1.1\r\n" % target]
            + [b"%b: %b\r\n" % (name, value) for name, value in headers]
            + [b"\r\n"]
        )
        connect: Request | None = None
        if request is not None:
            url = self.proxy_url
            connect = Request(
                b"CONNECT",
                URL(scheme=url.scheme, host=url.host, port=url.port, target=target),
                extensions=request.extensions,
            )
            connect.headers = RedactedHeaders(headers)
        info = {"request": connect}
        try:
            with Trace("send_request_headers", h11_logger, connect, info):
                stream.write(head, timeout)
            with Trace("send_request_body", h11_logger, connect, info):
                pass
            with Trace("receive_response_headers", h11_logger, connect, info) as trace:
                version, status, reason, reply_headers, leftover = self._read_head(stream, timeout)
                trace.return_value = (version, status, reason, reply_headers)
        except (ReadError, ReadTimeout, WriteError, WriteTimeout) as exc:
            raise _handshake_error(exc, "CONNECT handshake") from exc
        if not 200 <= status < 300:
            # httpcore's message: the proxy's status line, as it sent it.
            raise ProxyError(f"{status} {reason.decode('ascii', 'ignore')}")
        if leftover:
            return HTTP11UpgradeStream(stream, leftover)
        return stream

    @staticmethod
    def _read_head(
        stream: NetworkStream, timeout: float | None
    ) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]], bytes]:
        """``(http_version, status, reason, headers, bytes after the head)``."""
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
        headers = []
        for line in buffer[:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip(b" \t")))
        version = b"HTTP/1.%b" % match.group(1)
        return version, int(match.group(2)), match.group(3) or b"", headers, buffer[end + 4 :]


class TunnelHTTPConnection(TunnelledConnection):
    """A connection to an origin through an HTTP proxy's ``CONNECT`` tunnel, named as
    httpcore names it; TLS to the origin is reported as ``proxy.start_tls``."""

    _tls_logger = logger
