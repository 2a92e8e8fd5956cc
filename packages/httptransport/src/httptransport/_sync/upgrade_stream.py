# Generated from packages/httptransport/src/httptransport/_async/upgrade_stream.py by scripts/unasync.py: do not edit.  # noqa: E501
"""The raw stream after ``Upgrade`` or ``CONNECT``: :class:`HTTP11UpgradeStream`.

Whoever read the response head (h11, or the proxy tunnel's reader) may have read bytes
beyond it that already belong to the new protocol; this stream hands those out first.
It is the response's ``network_stream`` extension after a ``101 Switching Protocols``,
and the tunnel an HTTP proxy's ``CONNECT`` opened.
"""

from __future__ import annotations

import ssl
import typing

from netbackend_base import NetworkStream

__all__ = ("HTTP11UpgradeStream",)


class HTTP11UpgradeStream(NetworkStream):
    """The raw stream after ``Upgrade`` or ``CONNECT``, replaying bytes h11 read ahead.

    Handed out as the response's ``network_stream`` extension.
    """

    def __init__(self, stream: NetworkStream, leading_data: bytes) -> None:
        self._stream = stream
        self._leading = bytes(leading_data)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return read-ahead bytes first, then read from the stream."""
        leading = self._leading
        if leading:
            self._leading = leading[max_bytes:]
            return leading[:max_bytes]
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write to the stream."""
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        """Close the stream."""
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        """Run TLS over the stream (for HTTPS through a CONNECT tunnel)."""
        return self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        """Ask the stream."""
        return self._stream.get_extra_info(info)
