"""TLS over a stream: handshake, verification, ALPN/SNI, large transfers, TLS-in-TLS."""

from __future__ import annotations

import hashlib
import socket
import ssl
import struct
import typing

import pytest
import trustme

from netbackend_base import ConnectError

pytestmark = pytest.mark.anyio

if typing.TYPE_CHECKING:
    from collections.abc import Callable

    from netbackend_base.testing.harness import Net, Stream
    from netbackend_base.testing.servers import ThreadedServer, TLSServer


async def tls_connect(
    net: Net, server: TLSServer, context: ssl.SSLContext, hostname: str | None = "localhost"
) -> Stream:
    plain = await net.connect_tcp(server.host, server.port, timeout=5)
    return await plain.start_tls(context, server_hostname=hostname, timeout=5)


async def test_tls_echo_with_alpn_and_sni(
    net: Net, tls_echo: TLSServer, alpn_context: ssl.SSLContext
) -> None:
    """A verified TLS handshake negotiates "h2" when offered, sends SNI, and carries data."""
    stream = await tls_connect(net, tls_echo, alpn_context)
    ssl_object = stream.get_extra_info("ssl_object")
    assert isinstance(ssl_object, (ssl.SSLObject, ssl.SSLSocket))
    assert ssl_object.selected_alpn_protocol() == "h2"
    assert tls_echo.sni == ["localhost"]
    await stream.write(b"secret", timeout=5)
    assert await stream.read_exactly(6, timeout=5) == b"secret"
    await stream.close()


async def test_tls_alpn_follows_the_context(
    net: Net, tls_echo: TLSServer, client_context: ssl.SSLContext
) -> None:
    """ALPN is whatever the caller's context offers: "http/1.1" alone gets "http/1.1"."""
    client_context.set_alpn_protocols(["http/1.1"])
    stream = await tls_connect(net, tls_echo, client_context)
    assert stream.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
    await stream.close()


async def test_tls_extra_info(
    net: Net, tls_echo: TLSServer, client_context: ssl.SSLContext
) -> None:
    """A TLS stream keeps reporting the TCP socket and addresses, TCP_NODELAY still on."""
    stream = await tls_connect(net, tls_echo, client_context)
    sock = stream.get_extra_info("socket")
    assert isinstance(sock, socket.socket), f"socket extra is {type(sock)!r}"
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert tuple(stream.get_extra_info("server_addr")) == ("127.0.0.1", tls_echo.port)
    assert tuple(stream.get_extra_info("client_addr")) == sock.getsockname()
    assert stream.get_extra_info("ssl_object").server_hostname == "localhost"
    # is_readable is not checked here: a TLS 1.3 server's session tickets may be
    # waiting unread on an idle connection, and that legitimately counts as readable.
    assert stream.get_extra_info("no-such-key") is None
    await stream.close()


async def test_untrusted_certificate_is_connect_error(
    net: Net, tls_echo: TLSServer, open_fds: Callable[[], int]
) -> None:
    """A certificate from an unknown CA fails with ConnectError and closes the TCP socket."""
    # Trust only a CA that did not sign the server's certificate.
    stranger = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    trustme.CA().configure_trust(stranger)
    before = open_fds()
    plain = await net.connect_tcp(tls_echo.host, tls_echo.port, timeout=5)
    with net.raises_exactly(ConnectError):
        await plain.start_tls(stranger, server_hostname="localhost", timeout=5)
    assert tls_echo.server.wait_idle(), "the server still holds the connection open"
    assert open_fds() == before, "a failed start_tls left the TCP socket open"


async def test_wrong_hostname_is_connect_error(
    net: Net, tls_echo: TLSServer, client_context: ssl.SSLContext
) -> None:
    """A certificate that does not name server_hostname fails with ConnectError."""
    plain = await net.connect_tcp(tls_echo.host, tls_echo.port, timeout=5)
    with net.raises_exactly(ConnectError):
        await plain.start_tls(client_context, server_hostname="wrong.test", timeout=5)


async def test_tls_to_a_closing_peer_is_connect_error(
    net: Net, silent_server: ThreadedServer, client_context: ssl.SSLContext
) -> None:
    """A peer that closes during the handshake gives ConnectError, not an OSError."""
    plain = await net.connect_tcp(silent_server.host, silent_server.port, timeout=5)
    silent_server.next_connection().close()
    with net.raises_exactly(ConnectError):
        await plain.start_tls(client_context, server_hostname="localhost", timeout=5)


class RecordingContext(ssl.SSLContext):
    """An SSLContext that notes every attribute set or mutating method called once armed."""

    armed = False
    changes: list[str]

    def arm(self) -> None:
        object.__setattr__(self, "changes", [])
        object.__setattr__(self, "armed", True)

    def __setattr__(self, name: str, value: typing.Any) -> None:
        if self.armed:
            self.changes.append(f"set {name}")
        super().__setattr__(name, value)

    def _note(self, name: str) -> None:
        if self.armed:
            self.changes.append(name)

    def set_alpn_protocols(self, protocols: typing.Iterable[str]) -> None:
        self._note("set_alpn_protocols")
        super().set_alpn_protocols(protocols)

    def set_ciphers(self, cipherlist: str) -> None:
        self._note("set_ciphers")
        super().set_ciphers(cipherlist)

    def load_verify_locations(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        self._note("load_verify_locations")
        super().load_verify_locations(*args, **kwargs)

    def load_cert_chain(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        self._note("load_cert_chain")
        super().load_cert_chain(*args, **kwargs)

    def load_default_certs(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        self._note("load_default_certs")
        super().load_default_certs(*args, **kwargs)

    def set_default_verify_paths(self) -> None:
        self._note("set_default_verify_paths")
        super().set_default_verify_paths()


def snapshot(context: ssl.SSLContext) -> dict[str, object]:
    return {
        "check_hostname": context.check_hostname,
        "verify_mode": context.verify_mode,
        "verify_flags": context.verify_flags,
        "options": context.options,
        "minimum_version": context.minimum_version,
        "maximum_version": context.maximum_version,
        "ca_certs": context.get_ca_certs(),
        "ciphers": context.get_ciphers(),
        "sni_callback": context.sni_callback,
        "post_handshake_auth": context.post_handshake_auth,
    }


async def test_ssl_context_is_not_mutated(net: Net, tls_echo: TLSServer, ca: trustme.CA) -> None:
    """start_tls uses the caller's SSLContext as it is and changes nothing on it."""
    context = RecordingContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(context)
    before = snapshot(context)
    context.arm()
    stream = await tls_connect(net, tls_echo, context)
    # No ALPN offered, so none chosen: the backend did not add protocols of its own.
    assert stream.get_extra_info("ssl_object").selected_alpn_protocol() is None
    await stream.close()
    assert context.changes == []
    assert snapshot(context) == before


@pytest.mark.slow
async def test_16mib_over_tls(
    net: Net, tls_bulk: TLSServer, client_context: ssl.SSLContext, payload: bytes
) -> None:
    """16 MiB arrive intact in both directions over TLS, sent by a single write()."""
    stream = await tls_connect(net, tls_bulk, client_context)
    await stream.write(struct.pack("!cQ", b"U", len(payload)) + payload, timeout=30)
    assert await stream.read_exactly(32, timeout=30) == hashlib.sha256(payload).digest()
    await stream.write(struct.pack("!cQ", b"D", len(payload)), timeout=30)
    received = await stream.read_exactly(len(payload), timeout=30)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    await stream.close()


async def test_tls_close_twice_and_release(
    net: Net, tls_echo: TLSServer, client_context: ssl.SSLContext, open_fds: Callable[[], int]
) -> None:
    """Closing a TLS stream twice is harmless and releases the TCP socket underneath."""
    warm = await tls_connect(net, tls_echo, client_context)
    await warm.close()
    assert tls_echo.server.wait_idle()
    before = open_fds()
    stream = await tls_connect(net, tls_echo, client_context)
    await stream.write(b"ping", timeout=5)
    assert await stream.read_exactly(4, timeout=5) == b"ping"
    await stream.close()
    await stream.close()
    assert tls_echo.server.wait_idle(), "the server never saw the TLS connection close"
    assert open_fds() == before


async def test_tls_in_tls(
    net: Net,
    tls_relay: TLSServer,
    tls_echo: TLSServer,
    alpn_context: ssl.SSLContext,
    open_fds: Callable[[], int],
) -> None:
    """start_tls on a TLS stream tunnels a second handshake; the inner layer is reported."""
    before = open_fds()
    outer = await tls_connect(net, tls_relay, alpn_context, hostname="relay.test")
    outer_ssl = outer.get_extra_info("ssl_object")
    assert outer_ssl.server_hostname == "relay.test"
    # The relay offers no ALPN; the echo server behind it does.
    assert outer_ssl.selected_alpn_protocol() is None
    inner = await outer.start_tls(alpn_context, server_hostname="localhost", timeout=5)
    inner_ssl = inner.get_extra_info("ssl_object")
    assert isinstance(inner_ssl, (ssl.SSLObject, ssl.SSLSocket))
    assert inner_ssl is not outer_ssl
    assert inner_ssl.server_hostname == "localhost"
    assert inner_ssl.selected_alpn_protocol() == "h2"
    assert tls_relay.sni == ["relay.test"]
    assert tls_echo.sni == ["localhost"]
    for message in (b"tunnelled", b"y" * 100_000):
        await inner.write(message, timeout=5)
        assert await inner.read_exactly(len(message), timeout=5) == message
    # Closing the inner stream closes everything under it.
    await inner.close()
    assert tls_relay.server.wait_idle(), "the relay still sees the client connection"
    assert tls_echo.server.wait_idle(), "the echo server still sees the relayed connection"
    assert open_fds() == before
