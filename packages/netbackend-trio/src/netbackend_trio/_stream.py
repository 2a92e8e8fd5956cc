"""The stream returned by :class:`~netbackend_trio.TrioBackend`."""

from __future__ import annotations

import socket
import ssl
import typing

import trio

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

__all__ = ("LIBRARY_ERRORS", "TrioStream", "describe")

# Everything trio (or the OS, or the TLS layer) may raise for a broken or closed
# stream. ssl.SSLError is an OSError.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.BusyResourceError,
)


def describe(exc: BaseException) -> str:
    """Render an exception as ``"Type: text"`` for the message of the mapped one."""
    text = str(exc)
    if not text and exc.__cause__ is not None:
        # trio wraps TLS failures in BrokenResourceError; the cause says what happened.
        return f"{type(exc).__name__}: {describe(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TrioStream(AsyncNetworkStream):
    """A TCP, Unix or TLS byte stream driven by trio.

    ``read`` and ``write`` with ``timeout=None`` go straight to the trio stream: no
    cancel scope and no extra allocation per call.
    """

    __slots__ = ("_closed", "_raw", "_ssl_object", "_stream")

    def __init__(
        self,
        stream: trio.abc.Stream,
        raw_socket: socket.socket,
        ssl_object: ssl.SSLObject | None = None,
    ) -> None:
        """Wrap ``stream``, whose innermost transport is ``raw_socket``.

        Args:
            stream: The trio stream to read from and write to; this object owns it.
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
            # Typed bytes | bytearray, but SocketStream and SSLStream both return bytes.
            if timeout is None:
                return await self._stream.receive_some(max_bytes)  # type: ignore[return-value]
            with trio.move_on_after(timeout):
                return await self._stream.receive_some(max_bytes)  # type: ignore[return-value]
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
                await self._stream.send_all(buffer)
                return
            with trio.move_on_after(timeout):
                await self._stream.send_all(buffer)
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
            # Forceful: no TLS closing handshake, and immediate even when the caller is
            # being cancelled.
            await trio.aclose_forcefully(self._stream)
        except Exception:
            # trio could not close it: release the descriptor directly.
            self._raw.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> TrioStream:
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
        # HTTP detects truncation itself: a missing close_notify is a plain EOF.
        tls = trio.SSLStream(
            self._stream, ssl_context, server_hostname=server_hostname, https_compatible=True
        )
        done = False
        try:
            if timeout is None:
                await tls.do_handshake()
                done = True
            else:
                with trio.move_on_after(timeout):
                    await tls.do_handshake()
                    done = True
        except LIBRARY_ERRORS as exc:
            await self.aclose()
            raise ConnectError(tls_failure_message(exc, server_hostname)) from exc
        except BaseException:
            await self.aclose()
            raise
        if not done:
            await self.aclose()
            raise ConnectTimeout(f"TLS handshake did not finish within {timeout} seconds")
        # trio keeps its SSLObject private; it is the object the contract asks for.
        ssl_object: ssl.SSLObject = tls._ssl_object
        return TrioStream(tls, self._raw, ssl_object)

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
