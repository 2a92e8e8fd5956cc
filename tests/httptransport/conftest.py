"""Loopback HTTP servers for the httptransport tests (plain and TLS).

The server is threaded, one thread per connection, and speaks HTTP/1.1 through h11.
Each path selects a behaviour (see ``_respond``); ``Server.close_idle()`` closes every
connection that is between requests, which is what a server with a short keep-alive
timeout does, deterministically.
"""

from __future__ import annotations

import socket
import ssl
import threading
import typing
from collections.abc import Iterator

import h11
import pytest

from httptransport import _h1_head
from netbackend_base import BackendNotFoundError, find_backend


class Server:
    """A threaded HTTP/1.1 server on 127.0.0.1 (see the module docstring)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        self.scheme = "https" if ssl_context else "http"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._idle: set[socket.socket] = set()
        self.connections_accepted = 0
        self.requests: list[h11.Request] = []
        self.hang_started = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server."""
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def close_idle(self) -> int:
        """Close every connection waiting for its next request; return how many."""
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:  # pragma: no cover - already gone
                pass
        return len(idle)

    def stop(self) -> None:
        """Stop accepting, close every connection, and join every thread."""
        self._stop.set()
        try:
            # Wakes the thread blocked in accept() (closing alone does not, on Linux).
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:  # pragma: no cover - platform-dependent
            pass
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join()
        for thread in self._threads:
            thread.join()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections_accepted += 1
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        sock = raw
        try:
            if self._ssl_context is not None:
                try:
                    sock = self._ssl_context.wrap_socket(raw, server_side=True)
                except (OSError, ssl.SSLError):
                    return
            with self._lock:
                self._sockets.add(sock)
            conn = h11.Connection(h11.SERVER)
            while not self._stop.is_set():
                event = self._next_event(conn, sock)
                if event is None:
                    return
                request = typing.cast(h11.Request, event)
                with self._lock:
                    self._idle.discard(sock)
                    self.requests.append(request)
                body = b""
                while True:
                    event = self._next_event(conn, sock)
                    if event is None:
                        return
                    if isinstance(event, h11.EndOfMessage):
                        break
                    body += typing.cast(h11.Data, event).data
                if not self._respond(conn, sock, request, body):
                    return
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
                with self._lock:
                    self._idle.add(sock)
        except (OSError, h11.ProtocolError):
            return
        finally:
            with self._lock:
                self._sockets.discard(sock)
                self._idle.discard(sock)
            sock.close()

    def _next_event(self, conn: h11.Connection, sock: socket.socket) -> h11.Event | None:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                return None
            return typing.cast(h11.Event, event)

    def _send(self, conn: h11.Connection, sock: socket.socket, *events: h11.Event) -> None:
        data = b"".join(conn.send(event) or b"" for event in events)
        if conn.our_state is h11.DONE:
            # Idle from the client's point of view once it has the last byte: register
            # before sending, so close_idle() right after the response cannot miss it.
            with self._lock:
                self._idle.add(sock)
        sock.sendall(data)

    def _respond(
        self, conn: h11.Connection, sock: socket.socket, request: h11.Request, body: bytes
    ) -> bool:
        """Answer one request; return False to drop the connection without more ado."""
        path = request.target.decode()
        if path == "/hang":
            self.hang_started.set()
            self._stop.wait()
            return False
        if path == "/partial":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            self.hang_started.set()
            self._stop.wait()
            return False
        if path == "/http10":
            sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold school")
            return False
        if path == "/continue":
            sock.sendall(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            )
            self._send_nothing(conn)
            return True
        if path == "/upgrade":
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\nhello")
            while data := sock.recv(65536):
                sock.sendall(data)
            return False
        if path == "/chunked":
            self._send(
                conn,
                sock,
                h11.Response(status_code=200, headers=[(b"Transfer-Encoding", b"chunked")]),
                h11.Data(data=b"Hello, "),
                h11.Data(data=b"world!"),
                h11.EndOfMessage(),
            )
            return True
        headers = []
        if path == "/echo":
            content = body
        elif path == "/headers":
            content = b"\n".join(b"%s: %s" % (k, v) for k, v in request.headers)
        elif path == "/big":
            content = b"x" * (1024 * 1024)
        else:
            content = b"Hello, world!"
        if path == "/close":
            headers.append((b"Connection", b"close"))
        if request.method == b"HEAD":
            headers.append((b"Content-Length", b"%d" % len(content)))
            self._send(conn, sock, h11.Response(status_code=200, headers=headers, reason=b"OK"))
            self._send(conn, sock, h11.EndOfMessage())
            return True
        headers.append((b"Content-Length", b"%d" % len(content)))
        self._send(
            conn,
            sock,
            h11.Response(status_code=200, headers=headers, reason=b"OK"),
            h11.Data(data=content),
            h11.EndOfMessage(),
        )
        return True

    @staticmethod
    def _send_nothing(conn: h11.Connection) -> None:
        # The raw bytes above stand for h11's response: bring its state along.
        conn.send(h11.Response(status_code=200, headers=[(b"Content-Length", b"2")]))
        conn.send(h11.Data(data=b"ok"))
        conn.send(h11.EndOfMessage())


def _require_backend(request: pytest.FixtureRequest) -> None:
    """Skip unless a network backend for this test's context is installed."""
    if request.node.get_closest_marker("anyio") is not None:
        context = str(request.getfixturevalue("anyio_backend"))
    else:
        context = "sync"
    try:
        find_backend(context)
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def require_backend(request: pytest.FixtureRequest) -> None:
    """Skip the test unless a network backend for its context is installed."""
    _require_backend(request)


@pytest.fixture
def concurrently(request: pytest.FixtureRequest) -> typing.Any:
    """Run ``fn()`` ``n`` times at once: as anyio tasks in async tests, threads in sync ones."""
    if request.node.get_closest_marker("anyio") is not None:
        import anyio

        async def run_tasks(fn: typing.Callable[[], typing.Any], n: int) -> None:
            async with anyio.create_task_group() as tg:
                for _ in range(n):
                    tg.start_soon(fn)

        return run_tasks

    def run_threads(fn: typing.Callable[[], typing.Any], n: int) -> None:
        errors: list[BaseException] = []

        def target() -> None:
            try:
                fn()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=target) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:  # pragma: no cover - a failing test
            raise errors[0]

    return run_threads


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A plain HTTP server on 127.0.0.1 (skips the test if no backend is installed)."""
    _require_backend(request)
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tls_ca() -> typing.Any:
    """A throwaway certificate authority."""
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def client_ssl_context(tls_ca: typing.Any) -> ssl.SSLContext:
    """A client TLS context that trusts :func:`tls_ca`."""
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


@pytest.fixture
def tls_server(request: pytest.FixtureRequest, tls_ca: typing.Any) -> Iterator[Server]:
    """An HTTPS server on 127.0.0.1 with a certificate for ``127.0.0.1``/``localhost``."""
    _require_backend(request)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    srv = Server(context)
    yield srv
    srv.stop()


def _load_beside(filename: str, name: str) -> typing.Any:
    """Load ``filename`` beside this file as module ``name`` (once): the tests run with
    importlib imports, so a test module cannot import a helper module by its file name."""
    import importlib.util
    import pathlib
    import sys

    module = sys.modules.get(name)
    if module is None:
        path = pathlib.Path(__file__).with_name(filename)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


def _http2_servers() -> typing.Any:
    """``http2_servers.py`` beside this file (served by the fixtures below)."""
    pytest.importorskip("h2")
    return _load_beside("http2_servers.py", "_httptransport_http2_servers")


# ``http2_gates.py``, the async HTTP/2 writer tests' scaffolding, is loaded now, before
# any test module here is imported: they import it as ``_httptransport_http2_gates``.
# Without anyio or h2 it is not, and those modules skip (their importorskip comes first).
try:
    _load_beside("http2_gates.py", "_httptransport_http2_gates")
except ImportError:  # pragma: no cover - every test dependency is installed
    pass


@pytest.fixture
def h2_server(
    request: pytest.FixtureRequest, tls_ca: typing.Any, tmp_path: typing.Any
) -> Iterator[typing.Callable[..., typing.Any]]:
    """A factory of hypercorn HTTP/2 servers: ``h2_server(tls=True)`` (ALPN h2) or h2c."""
    _require_backend(request)
    pytest.importorskip("hypercorn")
    module = _http2_servers()
    servers: list[typing.Any] = []

    def make(tls: bool = True) -> typing.Any:
        srv = module.HypercornServer(tls_ca if tls else None, tmp_path)
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def h2_peer(
    request: pytest.FixtureRequest, tls_ca: typing.Any
) -> Iterator[typing.Callable[..., typing.Any]]:
    """A factory of scripted HTTP/2 peers: ``h2_peer(script, tls=False, settings=None)``;
    ``script(peer, n)`` runs in a thread per connection (see ``http2_servers.py``)."""
    _require_backend(request)
    module = _http2_servers()
    peers: list[typing.Any] = []

    def make(
        script: typing.Callable[..., None], tls: bool = False, settings: typing.Any = None
    ) -> typing.Any:
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_ca.issue_cert("127.0.0.1").configure_cert(context)
            context.set_alpn_protocols(["h2"])
        peer = module.ScriptedPeer(script, ssl_context=context, settings=settings)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()
    for peer in peers:
        if peer.errors:  # pragma: no cover - a broken script
            raise peer.errors[0]


@pytest.fixture
def empty_h1_caches() -> Iterator[None]:
    """Empty the lean parser's caches of parsed lines and heads (``_h1_head``) before
    and after the test, so that no test sees what another left."""
    _h1_head._lines.clear()
    _h1_head._heads.clear()
    yield
    _h1_head._lines.clear()
    _h1_head._heads.clear()
