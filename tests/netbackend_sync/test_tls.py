"""SyncStream.start_tls: SNI, ALPN, verification failures, timeouts, TLS-in-TLS."""

from __future__ import annotations

import socket
import ssl
import typing
from collections.abc import Callable

import pytest

pytest.importorskip("netbackend_sync")

from netbackend_base import ConnectError, ConnectTimeout, ReadTimeout
from netbackend_sync import SyncBackend, SyncStream, SyncTLSStream

Factory = Callable[..., typing.Any]


def _connect(server: typing.Any) -> SyncStream:
    return SyncBackend().connect_tcp("127.0.0.1", server.port, timeout=5)


def test_tls_roundtrip_with_sni_and_alpn(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """The handshake sends SNI, offers the caller's ALPN protocols, and data flows."""
    seen_names: list[str | None] = []

    def record_sni(_sock: typing.Any, name: str | None, _context: typing.Any) -> None:
        seen_names.append(name)

    server_context.sni_callback = record_sni
    server = start_server(tls=server_context)
    client_context.set_alpn_protocols(["http/1.1"])
    tls = _connect(server).start_tls(client_context, "localhost", timeout=5)
    try:
        tls.write(b"secret")
        assert tls.read(100) == b"secret"
        ssl_object = tls.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "http/1.1"
        assert seen_names == ["localhost"]
        assert tls.get_extra_info("server_addr") == ("127.0.0.1", server.port)
        assert isinstance(tls.get_extra_info("socket"), socket.socket)
    finally:
        tls.close()
        tls.close()


def test_tls_leaves_the_callers_context_alone(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A context without ALPN gets no protocol chosen: the backend adds none of its own."""
    server = start_server(tls=server_context)
    tls = _connect(server).start_tls(client_context, "localhost", timeout=5)
    try:
        assert tls.get_extra_info("ssl_object").selected_alpn_protocol() is None
    finally:
        tls.close()


@pytest.mark.parametrize(
    ("hostname", "trusted"),
    [("localhost", False), ("example.org", True)],
    ids=["untrusted-ca", "wrong-hostname"],
)
def test_verification_failure_is_a_connect_error_and_closes_the_stream(
    start_server: Factory,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    open_fds: Callable[[], int],
    hostname: str,
    trusted: bool,
) -> None:
    """An untrusted certificate or a wrong hostname raises ConnectError and closes the stream."""
    server = start_server(tls=server_context)
    context = client_context if trusted else ssl.create_default_context()
    before = open_fds()
    stream = _connect(server)
    with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        stream.start_tls(context, hostname, timeout=5)
    assert stream.get_extra_info("socket").fileno() == -1
    server.join()
    assert open_fds() == before


def test_handshake_timeout(start_server: Factory, client_context: ssl.SSLContext) -> None:
    """A server that never answers the ClientHello makes start_tls raise ConnectTimeout."""
    server = start_server(handler="silent")
    stream = _connect(server)
    with pytest.raises(ConnectTimeout):
        stream.start_tls(client_context, "localhost", timeout=0.1)
    assert stream.get_extra_info("socket").fileno() == -1


def test_missing_server_hostname_is_a_connect_error(
    start_server: Factory, client_context: ssl.SSLContext
) -> None:
    """A hostname-checking context without a server_hostname raises ConnectError, not ValueError."""
    server = start_server(handler="silent")
    stream = _connect(server)
    with pytest.raises(ConnectError, match="server_hostname"):
        stream.start_tls(client_context, None)


def test_tls_is_readable_with_decrypted_bytes_pending(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """Bytes already decrypted but not yet read make the stream readable, socket idle or not."""
    server = start_server(tls=server_context)
    tls = _connect(server).start_tls(client_context, "localhost", timeout=5)
    try:
        # The first read also consumes TLS 1.3 session tickets, which make the socket
        # readable without any application data.
        tls.write(b"ping")
        assert tls.read(10, timeout=5) == b"ping"
        assert tls.get_extra_info("is_readable") is False
        tls.write(b"abc")
        assert tls.read(1, timeout=5) == b"a"
        assert tls.get_extra_info("is_readable") is True
        assert tls.read(10, timeout=5) == b"bc"
        assert tls.get_extra_info("is_readable") is False
    finally:
        tls.close()


def test_tls_in_tls(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """start_tls on a TLS stream runs a second handshake inside the first."""
    server = start_server(tls=server_context, inner_tls=server_context)
    client_context.set_alpn_protocols(["h2"])
    outer = _connect(server).start_tls(client_context, "localhost", timeout=5)
    inner = outer.start_tls(client_context, "localhost", timeout=5)
    try:
        assert isinstance(inner, SyncTLSStream)
        payload = b"through two tunnels " * 10000
        inner.write(payload, timeout=5)
        received = b""
        while len(received) < len(payload):
            received += inner.read(65536, timeout=5)
        assert received == payload
        inner_ssl = inner.get_extra_info("ssl_object")
        assert isinstance(inner_ssl, ssl.SSLObject)
        assert inner_ssl is not outer.get_extra_info("ssl_object")
        assert inner_ssl.selected_alpn_protocol() == "h2"
        assert inner.get_extra_info("socket") is outer.get_extra_info("socket")
        assert inner.get_extra_info("server_addr") == ("127.0.0.1", server.port)
    finally:
        inner.close()
    assert outer.get_extra_info("socket").fileno() == -1


def test_tls_in_tls_read_timeout_and_readability(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """The inner TLS layer maps a quiet peer to ReadTimeout and reports pending data."""
    server = start_server(tls=server_context, inner_tls=server_context)
    outer = _connect(server).start_tls(client_context, "localhost", timeout=5)
    inner = outer.start_tls(client_context, "localhost", timeout=5)
    try:
        with pytest.raises(ReadTimeout):
            inner.read(10, timeout=0.05)
        assert inner.get_extra_info("is_readable") is False
        inner.write(b"xyz", timeout=5)
        assert inner.read(1, timeout=5) == b"x"
        assert inner.get_extra_info("is_readable") is True
    finally:
        inner.close()


def test_tls_in_tls_handshake_failure_closes_everything(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """A failed inner handshake raises ConnectError and closes the outer stream too."""
    server = start_server(tls=server_context, inner_tls=server_context)
    outer = _connect(server).start_tls(client_context, "localhost", timeout=5)
    with pytest.raises(ConnectError):
        outer.start_tls(client_context, "wrong.example", timeout=5)
    assert outer.get_extra_info("socket").fileno() == -1


def test_tls_full_duplex_from_two_threads(
    start_server: Factory, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    """One thread writes while another reads the same TLS stream, and every byte survives."""
    import hashlib
    import threading

    server = start_server(tls=server_context)
    tls = _connect(server).start_tls(client_context, "localhost", timeout=5)
    payload = bytes(range(256)) * 4096 * 8  # 8 MiB, in many small writes
    received = bytearray()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while len(received) < len(payload):
                data = tls.read(65536, timeout=10)
                if not data:
                    break
                received.extend(data)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for offset in range(0, len(payload), 1000):
            tls.write(payload[offset : offset + 1000], timeout=10)
        thread.join(timeout=30)
    finally:
        tls.close()
        thread.join()
    assert not errors
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
