"""Tunnels through a SOCKS proxy: :class:`AsyncSOCKSBackend`.

Theory of operation
-------------------
As for HTTP proxies (see :mod:`.tunnel`), the proxy sits under the normal
connection machinery: :class:`AsyncSOCKSBackend` is a network backend whose
``connect_tcp(host, port)`` connects to the SOCKS server and runs the SOCKS handshake
for ``host:port``; the pool's ordinary connection then does TLS to the origin and
speaks HTTP over the tunnel, with its retries, timeouts and traces. Every request
(``http://`` too) goes through a tunnel: SOCKS has no forwarding mode.

SOCKS5 messages are built by socksio (the ``httptransport[socks]`` extra, imported
only when a SOCKS proxy is created); SOCKS4 requests are built here, because socksio
refuses the empty user id most servers expect. Replies are read here exactly one
message at a time. Each read and write of the handshake is bounded by the ``connect``
timeout, so a stalled server ends in
:class:`ConnectTimeout`; a refusal, a hang-up or a reply that is not SOCKS ends in
:class:`ProxyError` naming the reply code. Either way the socket is closed before the
error propagates.

Who resolves host names:

* ``socks5://``, ``socks5h://`` and ``socks4a://``: the proxy (the name is sent as
  is). For ``socks5://`` this is httpcore's behaviour (curl would resolve locally):
  code moving over from httpcore must not start sending its lookups to the local
  resolver, which for Tor users would leak every host name they visit.
* ``socks4://``: this client, before the handshake, since SOCKS4 can only carry an
  IPv4 address; through the network backend's ``resolve()`` within the ``connect``
  timeout. IP literals skip resolution.

Authentication: SOCKS5 offers username/password (RFC 1929) when credentials are
given, next to "no authentication"; SOCKS4 sends the username as its user id.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import typing

from netbackend_base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

from .._exceptions import ProxyError
from .._models import URL, Request
from .._trace import Trace
from .tunnel import AsyncProxyBackend, AsyncTunnelledConnection

__all__ = ("SOCKS_INSTALL_HINT", "AsyncSOCKSBackend", "AsyncSocks5Connection", "import_socksio")

logger = logging.getLogger("httptransport.socks")

SOCKS_INSTALL_HINT = (
    "Using a SOCKS proxy requires the socksio package: "
    "pip install 'httptransport[socks]' (or pip install socksio)."
)
_DEFAULT_PORT = 1080
# SOCKS5 (RFC 1928): the version byte, the authentication methods (section 3), the
# address types (section 5) and the reply code of success (section 6).
_SOCKS5 = 5
_NO_AUTH = 0x00
_USERNAME_PASSWORD = 0x02
_NO_ACCEPTABLE_METHODS = 0xFF
# The methods' names as RFC 1928 section 3 writes them (httpcore's messages use them).
_SOCKS5_AUTH_METHOD_NAMES = {
    _NO_AUTH: "NO AUTHENTICATION REQUIRED",
    0x01: "GSSAPI",
    _USERNAME_PASSWORD: "USERNAME/PASSWORD",
    _NO_ACCEPTABLE_METHODS: "NO ACCEPTABLE METHODS",
}
# What each failure reply means (RFC 1928 section 6), as httpcore words it.
_SOCKS5_REPLIES = {
    0x01: "General SOCKS server failure",
    0x02: "Connection not allowed by ruleset",
    0x03: "Network unreachable",
    0x04: "Host unreachable",
    0x05: "Connection refused",
    0x06: "TTL expired",
    0x07: "Command not supported",
    0x08: "Address type not supported",
}
_IPV4, _DOMAIN_NAME, _IPV6 = 0x01, 0x03, 0x04
_SUCCEEDED = 0x00
# The username/password sub-negotiation's reply of success (RFC 1929 section 2).
_AUTH_SUCCESS = b"\x01\x00"
# SOCKS4 and SOCKS4a: the request's version and CONNECT command, the address that says
# "the name follows" (4a), the reply's version byte and the code of a granted request.
_SOCKS4_CONNECT = b"\x04\x01"
_SOCKS4A_NAME_FOLLOWS = b"\x00\x00\x00\x01"
_SOCKS4_REPLY_VERSION = 0
_SOCKS4_GRANTED = 0x5A


def import_socksio() -> typing.Any:
    """Import socksio, or fail with an error that says how to install it.

    Raises:
        ImportError: socksio is not installed.
    """
    try:
        import socksio
    except ImportError as exc:
        raise ImportError(SOCKS_INSTALL_HINT) from exc
    return socksio


def _code_name(enum: typing.Any, code: int) -> str:
    try:
        return str(enum(bytes([code])).name).lower().replace("_", " ")
    except ValueError:
        return "unknown reply code"


def _ascii_host(host: str) -> str:
    """``host`` as the proxy receives it: IDNA-encoded, as a connection would encode it.

    Raises:
        ConnectError: No such encoding exists (an empty label, or one over 63 characters).
    """
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ConnectError(f"Cannot send the host name {host!r} to the SOCKS proxy: {exc}") from exc


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(
    backend: AsyncNetworkBackend, host: str, family: int, timeout: float | None
) -> str:
    """The first address of ``host`` (of ``family``) by the backend's resolver.

    Raises:
        ConnectError: The name does not resolve (for ``family``).
        ConnectTimeout: Resolution took longer than ``timeout``.
    """
    if _is_ip(host):
        return host
    try:
        addresses = await backend.resolve(host, family, timeout)
    except ConnectTimeout as exc:
        raise ConnectTimeout(f"Timed out resolving {host!r} for the SOCKS proxy.") from exc
    except ConnectError as exc:
        raise ConnectError(f"Could not resolve {host!r} for the SOCKS proxy: {exc}") from exc
    return addresses[0]


class AsyncSOCKSBackend(AsyncProxyBackend):
    """Tunnels through a SOCKS4/4a/5/5h proxy (see the module docstring).

    Args:
        proxy_url: The proxy (``socks5``, ``socks5h``, ``socks4`` or ``socks4a``).
        credentials: ``(username, password)``, or ``None``.
        network_backend: The real backend.
        uds: Reach the proxy through this Unix socket.

    Raises:
        ImportError: socksio is not installed.
    """

    def __init__(
        self,
        proxy_url: URL,
        credentials: tuple[bytes, bytes] | None = None,
        network_backend: AsyncNetworkBackend | None = None,
        uds: str | None = None,
    ) -> None:
        super().__init__(proxy_url, network_backend, None, uds)
        self._socksio = import_socksio()
        self._credentials = credentials

    def default_port(self) -> int:
        """SOCKS servers listen on 1080 by default."""
        return _DEFAULT_PORT

    # httpcore reports the connect to a SOCKS proxy as socks.connect_tcp (host, port
    # and timeout), and the handshake as socks.setup_socks5_connection.
    _connect_logger = logger

    def _connect_info(self, kwargs: dict[str, typing.Any]) -> dict[str, typing.Any]:
        return {"host": kwargs["host"], "port": kwargs["port"], "timeout": kwargs["timeout"]}

    async def handshake(
        self,
        stream: AsyncNetworkStream,
        host: str,
        port: int,
        timeout: float | None,
        request: Request | None = None,
    ) -> AsyncNetworkStream:
        """Run the SOCKS handshake for ``host:port`` over ``stream``.

        Reported as ``socks.setup_socks5_connection`` (``setup_socks4_connection`` for
        SOCKS4), with httpcore's arguments; the password is never shown.

        Raises:
            ConnectError: ``socks4`` could not resolve ``host`` locally.
            ConnectTimeout: The server or the resolver did not answer in time.
            ProxyError: The server refused (reply code in the message), hung up,
                or did not speak SOCKS.
        """
        scheme = self.proxy_url.scheme
        credentials = self._credentials
        info = {
            "stream": stream,
            "host": host,
            "port": port,
            "auth": None if credentials is None else (credentials[0], b"[secure]"),
        }
        try:
            if scheme in (b"socks5", b"socks5h"):
                async with Trace("setup_socks5_connection", logger, request, info) as trace:
                    await self._socks5(stream, host, port, timeout)
                    trace.return_value = stream
            else:
                async with Trace("setup_socks4_connection", logger, request, info) as trace:
                    if scheme == b"socks4":
                        host = await _resolve(self._real_backend(), host, socket.AF_INET, timeout)
                    await self._socks4(stream, host, port, timeout, scheme == b"socks4a")
                    trace.return_value = stream
        except (ReadError, ReadTimeout, WriteError, WriteTimeout) as exc:
            if isinstance(exc, (ReadTimeout, WriteTimeout)):
                raise ConnectTimeout("Timed out during the SOCKS handshake.") from exc
            raise ProxyError(
                f"The SOCKS proxy broke the connection during the handshake: {exc}"
            ) from exc
        return stream

    @staticmethod
    async def _read_exact(stream: AsyncNetworkStream, size: int, timeout: float | None) -> bytes:
        data = b""
        while len(data) < size:
            chunk = await stream.read(size - len(data), timeout)
            if not chunk:
                raise ProxyError(
                    "The SOCKS proxy closed the connection during the handshake"
                    + (f" (after {data!r})." if data else ".")
                )
            data += chunk
        return data

    async def _socks5(
        self, stream: AsyncNetworkStream, host: str, port: int, timeout: float | None
    ) -> None:
        socks5 = self._socksio.socks5
        connection = socks5.SOCKS5Connection()
        # One method, as httpcore offers: username/password when there are credentials.
        if self._credentials is None:
            offered, code = socks5.SOCKS5AuthMethod.NO_AUTH_REQUIRED, _NO_AUTH
        else:
            offered, code = socks5.SOCKS5AuthMethod.USERNAME_PASSWORD, _USERNAME_PASSWORD
        connection.send(socks5.SOCKS5AuthMethodsRequest([offered]))
        await stream.write(connection.data_to_send(), timeout)
        reply = await self._read_exact(stream, 2, timeout)
        if reply[0] != _SOCKS5:
            raise ProxyError(f"The proxy did not answer as a SOCKS5 server: {reply!r}")
        method = reply[1]
        if method != code:
            got = _SOCKS5_AUTH_METHOD_NAMES.get(method, "UNKNOWN")
            raise ProxyError(
                f"Requested {_SOCKS5_AUTH_METHOD_NAMES[code]} from proxy server, but got {got}."
            )
        connection.receive_data(reply)
        if method == _USERNAME_PASSWORD:
            assert self._credentials is not None
            username, password = self._credentials
            connection.send(socks5.SOCKS5UsernamePasswordRequest(username, password))
            await stream.write(connection.data_to_send(), timeout)
            status = await self._read_exact(stream, 2, timeout)
            if status != _AUTH_SUCCESS:
                raise ProxyError("Invalid username/password")
            connection.receive_data(status)
        connection.send(
            socks5.SOCKS5CommandRequest.from_address(
                socks5.SOCKS5Command.CONNECT, (_ascii_host(host), port)
            )
        )
        await stream.write(connection.data_to_send(), timeout)
        head = await self._read_exact(stream, 4, timeout)
        if head[0] != _SOCKS5:
            raise ProxyError(f"The proxy did not answer as a SOCKS5 server: {head!r}")
        if head[1] != _SUCCEEDED:
            meaning = _SOCKS5_REPLIES.get(head[1], "UNKNOWN")
            raise ProxyError(f"Proxy Server could not connect: {meaning}.")
        # The bound address that follows is of no use to us, but must be consumed.
        if head[3] == _IPV4:
            size = 4
        elif head[3] == _IPV6:
            size = 16
        elif head[3] == _DOMAIN_NAME:
            size = (await self._read_exact(stream, 1, timeout))[0]
        else:
            raise ProxyError(f"The SOCKS5 proxy sent an unknown address type 0x{head[3]:02x}.")
        await self._read_exact(stream, size + 2, timeout)

    async def _socks4(
        self,
        stream: AsyncNetworkStream,
        host: str,
        port: int,
        timeout: float | None,
        remote_dns: bool,
    ) -> None:
        socks4 = self._socksio.socks4
        user_id = self._credentials[0] if self._credentials is not None else b""
        # Built here rather than by socksio, which refuses an empty user id.
        if remote_dns and not _is_ip(host):
            address = _SOCKS4A_NAME_FOLLOWS
            trailer = _ascii_host(host).encode("ascii") + b"\x00"
        else:
            try:
                address = socket.inet_aton(host)
            except OSError:
                raise ProxyError(f"SOCKS4 can only address IPv4 hosts, not {host!r}.") from None
            trailer = b""
        request = _SOCKS4_CONNECT + port.to_bytes(2, "big") + address + user_id + b"\x00" + trailer
        await stream.write(request, timeout)
        reply = await self._read_exact(stream, 8, timeout)
        if reply[0] != _SOCKS4_REPLY_VERSION:
            raise ProxyError(f"The proxy did not answer as a SOCKS4 server: {reply!r}")
        if reply[1] != _SOCKS4_GRANTED:
            name = _code_name(socks4.SOCKS4ReplyCode, reply[1])
            raise ProxyError(
                f"The SOCKS4 proxy could not connect to {host}:{port}: reply code "
                f"0x{reply[1]:02x} ({name})."
            )


class AsyncSocks5Connection(AsyncTunnelledConnection):
    """A connection to an origin through a SOCKS proxy's tunnel, named as httpcore names
    it (httpcore speaks SOCKS5 only; SOCKS4 tunnels carry the same name here); TLS to the
    origin is reported as ``socks.start_tls``."""

    _tls_logger = logger
