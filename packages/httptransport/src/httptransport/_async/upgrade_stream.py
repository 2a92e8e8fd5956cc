"""The raw stream after ``Upgrade`` or ``CONNECT``: :class:`AsyncHTTP11UpgradeStream`.

Whoever read the response head (h11, or the proxy tunnel's reader) may have read bytes
beyond it that already belong to the new protocol; this stream hands those out first.
It is the response's ``network_stream`` extension after a ``101 Switching Protocols``,
and the tunnel an HTTP proxy's ``CONNECT`` opened.
"""

from __future__ import annotations

import ssl
import typing

from netbackend_base import AsyncNetworkStream

__all__ = ("AsyncHTTP11UpgradeStream",)


class AsyncHTTP11UpgradeStream(AsyncNetworkStream):
    """The raw stream after ``Upgrade`` or ``CONNECT``, replaying bytes h11 read ahead.

    Handed out as the response's ``network_stream`` extension.
    """

    def __init__(self, stream: AsyncNetworkStream, leading_data: bytes) -> None:
        self._stream = stream
        self._leading = bytes(leading_data)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Return read-ahead bytes first, then read from the stream."""
        leading = self._leading
        if leading:
            self._leading = leading[max_bytes:]
            return leading[:max_bytes]
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write to the stream."""
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        """Close the stream."""
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        """Run TLS over the stream (for HTTPS through a CONNECT tunnel)."""
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        """Ask the stream."""
        return self._stream.get_extra_info(info)
