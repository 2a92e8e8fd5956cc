"""The conformance kit's servers: threads with blocking sockets on 127.0.0.1 / ::1.

They behave the same whichever event loop (or none) the client under test runs on.
:mod:`netbackend_base.testing.fixtures` wraps them in fixtures; tests reach them only
through those fixtures and synchronise with them through their methods
(``next_connection()``, ``close_connections()``, ``wait_idle()``), never with sleeps.
Standard library only (``trustme`` for type hints), so other test suites may use them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import queue
import select
import socket
import ssl
import struct
import threading
import typing
from collections.abc import Callable, Iterator

if typing.TYPE_CHECKING:
    import trustme

# How long the servers' own waits may take before the harness calls it a bug; far above
# anything a passing test needs, only there so a broken backend cannot hang the run.
GUARD = 10.0


class ThreadedServer:
    """A listening socket served by threads: one accept loop, one thread per connection.

    ``handler`` runs in its own thread per accepted connection (``None`` keeps accepted
    connections open and idle until :meth:`close_connections`). Every accepted socket
    also goes to :attr:`accepted`, so a test can act on the server side of its connection.
    """

    def __init__(
        self,
        listener: socket.socket,
        handler: Callable[[socket.socket], None] | None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.listener = listener
        self.address: typing.Any = listener.getsockname()
        self._handler = handler
        self._tls = tls
        self.accepted: queue.Queue[socket.socket] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def host(self) -> str:
        return str(self.address[0])

    @property
    def port(self) -> int:
        return int(self.address[1])

    def _accept_loop(self) -> None:
        while True:
            readable, _, _ = select.select([self.listener, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with self._lock:
                if self._stopping:
                    conn.close()
                    return
                self._conns.add(conn)
                self._active += 1
            self.accepted.put(conn)
            if self._handler is None and self._tls is None:
                continue
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        current = conn
        try:
            if self._tls is not None:
                # Swap before the handshake: wrapping detaches ``conn``, and stop() must
                # be able to wake a handshake that a silent client leaves hanging.
                current = self._tls.wrap_socket(
                    conn, server_side=True, do_handshake_on_connect=False
                )
                self._swap(conn, current)
                current.do_handshake()
            if self._handler is not None:
                self._handler(current)
        except OSError:
            # Clients in this suite misbehave on purpose (bad certificates, timeouts,
            # abrupt closes); the server side of that is not what is under test.
            pass
        finally:
            current.close()
            with self._lock:
                self._conns.discard(current)
                self._active -= 1
                self._idle.notify_all()

    def _swap(self, old: socket.socket, new: socket.socket) -> None:
        with self._lock:
            self._conns.discard(old)
            self._conns.add(new)
            stopping = self._stopping
        if stopping:
            _shutdown(new)

    def next_connection(self) -> socket.socket:
        """The server side of the next accepted connection."""
        return self.accepted.get(timeout=GUARD)

    def close_connections(self) -> None:
        """Close the server side of every open connection (handler-less servers)."""
        with self._lock:
            conns = list(self._conns)
            if self._handler is None and self._tls is None:
                self._conns.clear()
                self._active = 0
                self._idle.notify_all()
        for conn in conns:
            if self._handler is None and self._tls is None:
                conn.close()
            else:
                _shutdown(conn)

    def wait_idle(self, timeout: float = GUARD) -> bool:
        """Wait until no connection is open on the server side; ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake_w.send(b"x")
        self._acceptor.join(GUARD)
        self.listener.close()
        self.close_connections()
        for thread in self._threads:
            thread.join(GUARD)
        self._wake_r.close()
        self._wake_w.close()
        assert not self._acceptor.is_alive(), "server accept loop did not stop"
        alive = [thread for thread in self._threads if thread.is_alive()]
        assert not alive, "a server connection thread did not stop"


def _shutdown(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter drops the TLS state
    # under a thread that may be blocked in it; this only wakes that thread with EOF.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def listening_socket(
    family: socket.AddressFamily = socket.AF_INET,
    address: typing.Any = ("127.0.0.1", 0),
    backlog: int = 128,
    rcvbuf: int | None = None,
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if rcvbuf is not None:
            # Set on the listener so accepted sockets inherit it from the first byte.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def echo_handler(conn: socket.socket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


# The bulk protocol: the client sends b"U" + 8-byte length + that many bytes and gets back
# the SHA-256 of what arrived; or b"D" + 8-byte length and gets that many bytes of the
# shared payload. One direction at a time, so no client needs to read while it writes.
_HEADER = struct.Struct("!cQ")


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = conn.recv(min(n, 1 << 20))
        if not chunk:
            raise ConnectionError("peer closed mid-message")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def bulk_handler(payload: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        while True:
            try:
                kind, length = _HEADER.unpack(_recv_exactly(conn, _HEADER.size))
            except ConnectionError:
                return
            if kind == b"U":
                digest = hashlib.sha256()
                remaining = length
                while remaining:
                    chunk = conn.recv(min(remaining, 1 << 20))
                    if not chunk:
                        return
                    digest.update(chunk)
                    remaining -= len(chunk)
                conn.sendall(digest.digest())
            else:
                conn.sendall(payload[:length])

    return handle


def relay_handler(upstream: tuple[str, int]) -> Callable[[socket.socket], None]:
    """Forward the decrypted bytes of a TLS connection to ``upstream`` over plain TCP."""

    def handle(conn: socket.socket) -> None:
        assert isinstance(conn, ssl.SSLSocket)
        with socket.create_connection(upstream) as up:
            while True:
                # Bytes already decrypted inside the TLS object do not wake select().
                ready = [conn] if conn.pending() else select.select([conn, up], [], [])[0]
                if conn in ready:
                    data = conn.recv(65536)
                    if not data:
                        return
                    up.sendall(data)
                if up in ready:
                    data = up.recv(65536)
                    if not data:
                        return
                    conn.sendall(data)

    return handle


@contextlib.contextmanager
def serving(server: ThreadedServer) -> Iterator[ThreadedServer]:
    try:
        yield server
    finally:
        server.stop()


@dataclasses.dataclass
class NeverAccepts:
    """An address whose connection attempts hang: the listener's backlog is full."""

    host: str
    port: int


@contextlib.contextmanager
def full_backlog(family: socket.AddressFamily, address: tuple[str, int]) -> Iterator[socket.socket]:
    # listen(0) leaves room for one queued connection; the filler takes it, so the
    # kernel drops every later SYN and those connects hang until their own timeout.
    listener = listening_socket(family, address, backlog=0)
    filler = socket.socket(family, socket.SOCK_STREAM)
    try:
        filler.connect(listener.getsockname()[:2])
        yield listener
    finally:
        filler.close()
        listener.close()


@dataclasses.dataclass
class TLSServer:
    """A TLS server and what its clients told it."""

    server: ThreadedServer
    sni: list[str | None]

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port


def _server_context(
    cert: trustme.LeafCert, sni: list[str | None], alpn: list[str] | None
) -> ssl.SSLContext:
    # A bare server context: create_default_context() would also load the system's CA
    # store, which costs a noticeable fraction of a second per server.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    if alpn:
        context.set_alpn_protocols(alpn)

    def record(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        sni.append(name)

    context.sni_callback = record
    return context


@contextlib.contextmanager
def tls_server(
    cert: trustme.LeafCert,
    handler: Callable[[socket.socket], None],
    alpn: list[str] | None = None,
) -> Iterator[TLSServer]:
    sni: list[str | None] = []
    context = _server_context(cert, sni, alpn)
    with serving(ThreadedServer(listening_socket(), handler, tls=context)) as server:
        yield TLSServer(server, sni)


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@dataclasses.dataclass
class DualStack:
    """A host name that resolves to ``::1`` (hanging) then 127.0.0.1 (an echo server)."""

    host: str
    port: int
    echo: ThreadedServer


@contextlib.contextmanager
def dual_port(attempts: int = 20) -> Iterator[socket.socket]:
    """Hang connects to ``::1`` on some port and yield a 127.0.0.1 listener on the same one."""
    for _ in range(attempts):
        with contextlib.ExitStack() as stack:
            v6 = stack.enter_context(full_backlog(socket.AF_INET6, ("::1", 0)))
            try:
                v4 = listening_socket(socket.AF_INET, ("127.0.0.1", v6.getsockname()[1]))
            except OSError:
                continue  # the port is taken on IPv4: try another
            yield v4
            return
    raise RuntimeError("no port free on both ::1 and 127.0.0.1")
