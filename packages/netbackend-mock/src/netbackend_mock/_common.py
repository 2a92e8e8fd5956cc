"""State and records shared by the blocking and async mocks.

The sync and async classes differ only in ``def`` versus ``async def``; everything a
stream does to its script, its records and its extra info lives here once.
"""

from __future__ import annotations

import dataclasses
import typing

from netbackend_base import SOCKET_OPTION, ConnectError, ReadError, WriteError

if typing.TYPE_CHECKING:
    import ssl

__all__ = (
    "ConnectCall",
    "MockSSLObject",
    "StartTLSCall",
)

# Where invented client ports start: the bottom of the IANA ephemeral range.
_FIRST_CLIENT_PORT = 49152
_DEFAULT_SERVER_ADDR = ("127.0.0.1", 80)


class MockSSLObject:
    """Stands in for ``ssl.SSLObject`` where a pool only asks what ALPN chose.

    Args:
        http2: Whether the "server" picked HTTP/2.
    """

    __slots__ = ("_http2",)

    def __init__(self, http2: bool) -> None:
        self._http2 = http2

    def selected_alpn_protocol(self) -> str | None:
        """Return ``"h2"`` when the backend was built with ``http2=True``, else ``None``."""
        return "h2" if self._http2 else None

    def __repr__(self) -> str:
        return f"<MockSSLObject alpn={self.selected_alpn_protocol()!r}>"


@dataclasses.dataclass(frozen=True)
class ConnectCall:
    """The arguments of one ``connect_tcp`` or ``connect_unix_socket`` call.

    Attributes:
        kind: ``"tcp"`` or ``"unix"``.
        host: The host for TCP, ``None`` for Unix sockets.
        port: The port for TCP, ``None`` for Unix sockets.
        path: The socket path for Unix sockets, ``None`` for TCP.
        timeout: The timeout passed, unused by the mock.
        local_address: The local address passed (TCP only).
        socket_options: The options passed, collected into a tuple, or ``None``.
    """

    kind: typing.Literal["tcp", "unix"]
    host: str | None = None
    port: int | None = None
    path: str | None = None
    timeout: float | None = None
    local_address: str | None = None
    socket_options: tuple[SOCKET_OPTION, ...] | None = None


@dataclasses.dataclass(frozen=True)
class StartTLSCall:
    """The arguments of one ``start_tls`` call.

    Attributes:
        ssl_context: The context passed; the mock never uses it.
        server_hostname: The SNI name passed.
        timeout: The timeout passed, unused by the mock.
    """

    ssl_context: ssl.SSLContext
    server_hostname: str | None
    timeout: float | None


class _StreamCore:
    """What a mock stream does, minus the sync/async method signatures."""

    def __init__(
        self,
        buffer: list[bytes],
        http2: bool,
        client_addr: typing.Any,
        server_addr: typing.Any,
    ) -> None:
        self._buffer = buffer
        self._http2 = http2
        self._closed = False
        self._client_addr = client_addr
        self._server_addr = server_addr
        self.written: list[bytes] = []
        """Every non-empty ``write`` buffer, in order."""
        self.tls_calls: list[StartTLSCall] = []
        """Every ``start_tls`` call on this stream, in order."""

    @property
    def closed(self) -> bool:
        """Whether ``close``/``aclose`` was called."""
        return self._closed

    @property
    def data_written(self) -> bytes:
        """Everything written so far, joined."""
        return b"".join(self.written)

    @property
    def server_hostname(self) -> str | None:
        """The ``server_hostname`` of the latest ``start_tls``, or ``None``."""
        return self.tls_calls[-1].server_hostname if self.tls_calls else None

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The ``ssl_context`` of the latest ``start_tls``, or ``None`` if TLS never started."""
        return self.tls_calls[-1].ssl_context if self.tls_calls else None

    def _read(self, max_bytes: int) -> bytes:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        if self._closed:
            raise ReadError("read on a closed MockStream")
        if not self._buffer:
            return b""
        chunk = self._buffer[0]
        if len(chunk) > max_bytes:
            # Leave the rest in place so the next read (on any stream sharing this
            # script) carries on from where this one stopped.
            self._buffer[0] = chunk[max_bytes:]
            return chunk[:max_bytes]
        del self._buffer[0]
        return chunk

    def _write(self, buffer: bytes) -> None:
        if self._closed:
            raise WriteError("write on a closed MockStream")
        if buffer:
            self.written.append(bytes(buffer))

    def _close(self) -> None:
        self._closed = True

    def _start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None,
        timeout: float | None,
    ) -> None:
        if self._closed:
            # The contract maps every handshake failure, a dead transport included,
            # to ConnectError.
            raise ConnectError("start_tls on a closed MockStream")
        self.tls_calls.append(StartTLSCall(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        """Return mock transport details.

        * ``"ssl_object"``: a :class:`MockSSLObject`, on plain streams too, so a pool
          that reads ALPN from it picks HTTP/2 when the backend was built with
          ``http2=True``.
        * ``"is_readable"``: always ``False``; see the package README for why.
        * ``"client_addr"`` / ``"server_addr"``: ``(host, port)`` tuples for TCP, path
          strings for Unix sockets.
        * ``"socket"`` and any other key: ``None``.
        """
        if info == "ssl_object":
            return MockSSLObject(self._http2)
        if info == "is_readable":
            return False
        if info == "client_addr":
            return self._client_addr
        if info == "server_addr":
            return self._server_addr
        return None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} [{state}, {len(self._buffer)} chunks left]>"


class _BackendCore:
    """What a mock backend does, minus the sync/async method signatures."""

    def __init__(self, buffer: list[bytes], http2: bool, shared: bool) -> None:
        self._buffer = buffer
        self._http2 = http2
        self._shared = shared
        self.connect_calls: list[ConnectCall] = []
        """Every connect call, in order; ``connect_calls[i]`` opened ``streams[i]``."""
        self.sleeps: list[float] = []
        """Every ``sleep`` duration asked for, in order."""

    @property
    def http2(self) -> bool:
        """Whether streams report ``"h2"`` as the ALPN choice."""
        return self._http2

    def _script(self) -> list[bytes]:
        return self._buffer if self._shared else list(self._buffer)

    def _record_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None,
    ) -> tuple[typing.Any, typing.Any]:
        self.connect_calls.append(
            ConnectCall(
                "tcp",
                host=host,
                port=port,
                timeout=timeout,
                local_address=local_address,
                socket_options=None if socket_options is None else tuple(socket_options),
            )
        )
        client_port = _FIRST_CLIENT_PORT + len(self.connect_calls) - 1
        return (local_address or "127.0.0.1", client_port), (host, port)

    def _record_unix(
        self,
        path: str,
        timeout: float | None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None,
    ) -> tuple[typing.Any, typing.Any]:
        self.connect_calls.append(
            ConnectCall(
                "unix",
                path=path,
                timeout=timeout,
                socket_options=None if socket_options is None else tuple(socket_options),
            )
        )
        # An unbound Unix client socket has an empty name.
        return "", path
