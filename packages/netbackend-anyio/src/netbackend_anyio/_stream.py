"""The stream returned by :class:`~netbackend_anyio.AnyIOBackend`."""

from __future__ import annotations

import socket
import ssl
import typing

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream

from netbackend_base import (
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
    poll_readable,
    socket_info,
    tls_failure_message,
)

__all__ = ("LIBRARY_ERRORS", "AnyIOStream", "describe", "handshake")

T = typing.TypeVar("T")

# Everything anyio (or the OS, or the TLS layer) may raise for a broken or closed
# stream. ssl.SSLError is an OSError; EndOfStream only matters during a handshake.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.BusyResourceError,
    anyio.EndOfStream,
)


def describe(exc: BaseException) -> str:
    """Render an exception as ``"Type: text"`` for the message of the mapped one."""
    text = str(exc)
    if not text and exc.__cause__ is not None:
        # anyio wraps TLS and socket failures in BrokenResourceError; the cause says why.
        return f"{type(exc).__name__}: {describe(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def handshake(
    stream: AsyncNetworkStream,
    start: typing.Awaitable[T],
    timeout: float | None,
    server_hostname: str | None,
) -> T:
    """Await ``start`` (a TLS handshake with ``server_hostname`` over ``stream``) within
    ``timeout``.

    On any failure, timeout or cancellation ``stream`` is closed; the library's errors
    become ``ConnectError`` (its message naming the cause: see
    ``netbackend_base.tls_failure_message``), the timeout ``ConnectTimeout``.
    """
    finished = False
    try:
        with anyio.move_on_after(timeout):
            result = await start
            finished = True
    except LIBRARY_ERRORS as exc:
        await stream.aclose()
        raise ConnectError(tls_failure_message(exc, server_hostname)) from exc
    except BaseException:
        await stream.aclose()
        raise
    if not finished:
        await stream.aclose()
        raise ConnectTimeout(f"TLS handshake did not finish within {timeout} seconds")
    return result


class AnyIOStream(AsyncNetworkStream):
    """A TCP, Unix or TLS byte stream driven by anyio.

    Works on whichever event loop anyio runs on (asyncio, uvloop, trio). ``read`` and
    ``write`` with ``timeout=None`` go straight to the anyio stream: no cancel scope and
    no extra allocation per call.
    """

    __slots__ = ("_closed", "_raw", "_ssl_object", "_stream")

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        raw_socket: socket.socket,
        ssl_object: ssl.SSLObject | None = None,
    ) -> None:
        """Wrap ``stream``, whose innermost transport is ``raw_socket``.

        Args:
            stream: The anyio stream to read from and write to; this object owns it.
            raw_socket: The OS socket under ``stream`` (also under every TLS layer).
            ssl_object: The outermost TLS layer's SSL object, if any.
        """
        self._stream = stream
        self._raw = raw_socket
        self._ssl_object = ssl_object
        self._closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Receive up to ``max_bytes`` bytes; ``b""`` at EOF.

        Raises:
            ReadTimeout: Nothing arrived within ``timeout``.
            ReadError: The connection broke, was closed, or the TLS layer failed.
        """
        try:
            if timeout is None:
                return await self._stream.receive(max_bytes)
            with anyio.move_on_after(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except LIBRARY_ERRORS as exc:
            raise ReadError(describe(exc)) from exc
        raise ReadTimeout(f"no data received within {timeout} seconds")

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` (an empty buffer is a no-op).

        Raises:
            WriteTimeout: Not all of it could be sent within ``timeout``.
            WriteError: The connection broke, was closed, or the TLS layer failed.
        """
        if not buffer:
            return
        try:
            if timeout is None:
                await self._stream.send(buffer)
                return
            with anyio.move_on_after(timeout):
                await self._stream.send(buffer)
                return
        except LIBRARY_ERRORS as exc:
            raise WriteError(describe(exc)) from exc
        raise WriteTimeout(f"could not send within {timeout} seconds")

    async def aclose(self) -> None:
        """Close the stream (and every layer under it) and release the socket.

        Never raises and never waits for the peer; calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        try:
            # Shielded so that the close runs to its end even when the caller is being
            # cancelled: anyio 4.10-4.13 close an asyncio transport with close(), one
            # checkpoint, then abort(), and cancelling that checkpoint leaks the
            # transport. It cannot wait on the peer: TLS layers are wrapped with
            # standard_compatible=False, so there is no closing handshake.
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
        except Exception:
            pass
        # asyncio transports release their socket one loop iteration after abort();
        # closing it here makes the release synchronous. A second close is a no-op.
        self._raw.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AnyIOStream:
        """Run a TLS client handshake over this stream (TLS-in-TLS included).

        ``ssl_context`` is used as given (ALPN protocols, verification), never modified.
        The returned stream owns this one; on failure or cancellation this one is closed.

        Args:
            ssl_context: The client context.
            server_hostname: Sent as SNI and checked against the certificate when the
                context checks host names.
            timeout: Limit for the whole handshake.

        Returns:
            The TLS stream.

        Raises:
            ConnectTimeout: The handshake did not finish within ``timeout``.
            ConnectError: The handshake failed (certificate, host name, peer closed).
        """
        tls = await handshake(
            self, self._wrap(ssl_context, server_hostname), timeout, server_hostname
        )
        return AnyIOStream(tls, self._raw, tls.extra(TLSAttribute.ssl_object))

    async def _wrap(self, ssl_context: ssl.SSLContext, server_hostname: str | None) -> TLSStream:
        # HTTP detects truncation itself, so a missing close_notify is not an error and
        # closing does not wait for the peer's.
        return await TLSStream.wrap(
            self._stream,
            server_side=False,
            hostname=server_hostname,
            ssl_context=ssl_context,
            standard_compatible=False,
        )

    def get_extra_info(self, info: str) -> typing.Any:
        """Return ``ssl_object``, ``client_addr``, ``server_addr``, ``socket`` or ``is_readable``.

        Any other key, or an address asked of a closed stream, returns ``None``.
        """
        if info == "ssl_object":
            return self._ssl_object
        if info == "is_readable":
            return self._is_readable()
        return socket_info(self._raw, info)

    def _is_readable(self) -> bool:
        if self._ssl_object is not None and self._ssl_object.pending():
            return True
        return poll_readable(self._raw)
