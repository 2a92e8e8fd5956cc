"""Loopback servers for the sync backend's tests, each on its own threads."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import typing
from collections.abc import Callable, Iterator

import pytest


class Connection(typing.Protocol):
    """What a handler needs of a connection: a plain socket, or TLS over one."""

    def recv(self, size: int, /) -> bytes: ...

    def sendall(self, data: bytes, /) -> None: ...


Handler = Callable[[Connection], None]


class Server:
    """A listening socket whose connections are each served by ``handler`` on a thread.

    ``accepted`` holds the server side of every connection, so a test can reset one or
    read its socket options; ``join()`` waits until every handler has returned.
    """

    def __init__(self, listener: socket.socket, handler: Handler) -> None:
        self.listener = listener
        self.host, self.port = listener.getsockname()[:2]
        self.accepted: list[socket.socket] = []
        self._handler = handler
        self._handlers: list[threading.Thread] = []
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            if self._stopping:
                conn.close()
                return
            self.accepted.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._handlers.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def join(self) -> None:
        """Wait for every connection handler to finish."""
        for thread in list(self._handlers):
            thread.join(timeout=10)
            assert not thread.is_alive(), "a server handler did not finish"

    def stop(self) -> None:
        """Stop accepting (a last connection wakes the acceptor) and close everything."""
        self._stopping = True
        family = self.listener.family
        with socket.socket(family, socket.SOCK_STREAM) as waker:
            waker.connect(self.listener.getsockname())
        self._acceptor.join(timeout=10)
        self.listener.close()
        for conn in self.accepted:
            conn.close()
        self.join()


def echo(conn: Connection) -> None:
    """Send back everything received until the peer closes."""
    while data := conn.recv(65536):
        conn.sendall(data)


def silent(conn: Connection) -> None:
    """Read and drop everything until the peer closes; never answer."""
    while conn.recv(65536):
        pass


def tls_server(context: ssl.SSLContext, then: Handler) -> Handler:
    """Run a TLS server handshake on the connection, then ``then`` over TLS."""

    def handler(conn: Connection) -> None:
        assert isinstance(conn, socket.socket)
        with context.wrap_socket(conn, server_side=True) as tls_conn:
            then(tls_conn)

    return handler


class _BioConnection:
    """Server-side TLS over an already-TLS connection, for TLS-in-TLS tests."""

    def __init__(self, outer: socket.socket, context: ssl.SSLContext) -> None:
        self._outer = outer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._retry(self._tls.do_handshake)

    def _retry(self, action: Callable[..., typing.Any], *args: typing.Any) -> typing.Any:
        while True:
            try:
                result = action(*args)
            except ssl.SSLWantReadError:
                self._send_pending()
                data = self._outer.recv(65536)
                if data:
                    self._incoming.write(data)
                else:
                    self._incoming.write_eof()
            else:
                self._send_pending()
                return result

    def _send_pending(self) -> None:
        if self._outgoing.pending:
            self._outer.sendall(self._outgoing.read())

    def recv(self, size: int, /) -> bytes:
        try:
            return typing.cast(bytes, self._retry(self._tls.read, size))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""

    def sendall(self, data: bytes, /) -> None:
        self._retry(self._tls.write, data)


def tls_in_tls(outer: ssl.SSLContext, inner: ssl.SSLContext, then: Handler) -> Handler:
    """TLS with ``outer``, then TLS with ``inner`` inside it, then ``then``."""

    def handler(conn: Connection) -> None:
        assert isinstance(conn, socket.socket)
        with outer.wrap_socket(conn, server_side=True) as outer_conn:
            then(_BioConnection(outer_conn, inner))

    return handler


_HANDLERS: dict[str, Handler] = {"echo": echo, "silent": silent}


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """Start servers; all are stopped when the test ends.

    ``start(handler="echo" | "silent", host=..., port=0, backlog=16, tls=None,
    inner_tls=None)``: ``tls`` runs a TLS handshake first, and ``inner_tls`` a second one
    inside it (TLS-in-TLS).
    """
    servers: list[Server] = []

    def start(
        handler: str = "echo",
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 16,
        tls: ssl.SSLContext | None = None,
        inner_tls: ssl.SSLContext | None = None,
    ) -> Server:
        serve = _HANDLERS[handler]
        if inner_tls is not None:
            assert tls is not None
            serve = tls_in_tls(tls, inner_tls, serve)
        elif tls is not None:
            serve = tls_server(tls, serve)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(backlog)
        server = Server(listener, serve)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Blackhole:
    """A listener on ``host`` whose accept queue is full, so further SYNs are dropped."""

    def __init__(self, host: str, port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.bind((host, port))
        # Backlog 0 queues exactly one connection on Linux: the filler takes it.
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.filler = socket.create_connection((host, self.port))

    def close(self) -> None:
        self.filler.close()
        self.listener.close()


@pytest.fixture
def blackhole() -> Iterator[Callable[..., Blackhole]]:
    """Make :class:`Blackhole` listeners; all are closed when the test ends."""
    holes: list[Blackhole] = []

    def make(host: str, port: int = 0) -> Blackhole:
        hole = Blackhole(host, port)
        holes.append(hole)
        return hole

    yield make
    for hole in holes:
        hole.close()


@pytest.fixture
def dual_stack(start_server: Callable[..., Server], blackhole: Callable[..., Blackhole]) -> Server:
    """An echo server on 127.0.0.1 and, on the same port, a blackhole on ::1."""
    for _attempt in range(20):
        server = start_server()
        try:
            blackhole("::1", server.port)
        except OSError:  # the port is taken on ::1: try another one
            continue
        return server
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, list[str]], None]:
    """Make ``socket.getaddrinfo`` resolve one fake name to the given IP literals."""
    real_getaddrinfo = socket.getaddrinfo

    def install(name: str, addresses: list[str]) -> None:
        def fake(
            host: typing.Any, port: typing.Any, *args: typing.Any, **kwargs: typing.Any
        ) -> typing.Any:
            if host != name:
                return real_getaddrinfo(host, port, *args, **kwargs)
            return [
                info
                for address in addresses
                for info in real_getaddrinfo(address, port, type=socket.SOCK_STREAM)
            ]

        monkeypatch.setattr(socket, "getaddrinfo", fake)

    return install


@pytest.fixture
def open_fds() -> Callable[[], int]:
    """Count this process's open file descriptors (Linux only)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    return lambda: len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="session")
def ca() -> typing.Any:
    """A throwaway certificate authority."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: typing.Any) -> typing.Any:
    """A certificate for ``localhost`` issued by :func:`ca`."""
    return ca.issue_cert("localhost")


@pytest.fixture
def server_context(server_cert: typing.Any) -> ssl.SSLContext:
    """A server context with a certificate for ``localhost``, offering h2 and http/1.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


@pytest.fixture
def client_context(ca: typing.Any) -> ssl.SSLContext:
    """A client context that trusts :func:`ca`."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
