"""Harness and servers for the cross-backend conformance suite.

Every test in this directory is written once, as an ``async`` function against the
small adapter :class:`Net` below, and runs once per backend variant:

* ``sync``: ``netbackend_sync.SyncBackend``, its blocking calls made in a worker thread
  (``anyio.to_thread.run_sync``) so the same async test body drives it;
* ``anyio-asyncio`` / ``anyio-trio``: ``netbackend_anyio.AnyIOBackend`` on each loop;
* ``trio``: ``netbackend_trio.TrioBackend``.

A variant whose package is not installed is skipped. ``--netbackend=module:Class`` (or
the ``NETBACKEND_CONFORMANCE`` environment variable) replaces the four variants with a
third-party backend; see README.md.

The servers are plain threads with blocking sockets, bound to 127.0.0.1 / ::1 only, so
they behave the same whichever event loop (or none) the client runs on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import inspect
import os
import queue
import random
import select
import socket
import ssl
import struct
import tempfile
import threading
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
import trustme

from netbackend_base import (
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    NetworkBackend,
    NetworkStream,
)

BUILTIN_VARIANTS = ("sync", "anyio-asyncio", "anyio-trio", "trio")
# variant -> (module, class name, event loop that runs the test body)
_BUILTIN = {
    "sync": ("netbackend_sync", "SyncBackend", "asyncio"),
    "anyio-asyncio": ("netbackend_anyio", "AnyIOBackend", "asyncio"),
    "anyio-trio": ("netbackend_anyio", "AnyIOBackend", "trio"),
    "trio": ("netbackend_trio", "TrioBackend", "trio"),
}
_ENV_VAR = "NETBACKEND_CONFORMANCE"
_ENV_LOOPS = "NETBACKEND_CONFORMANCE_LOOPS"

# The CI matrix names the backend set it installed; a variant that set promises must not
# quietly skip because an install went wrong.
_SET_VAR = "NETBACKEND_TEST_SET"
_SETS = {
    "all": frozenset(BUILTIN_VARIANTS),
    "none": frozenset(),
    "sync": frozenset({"sync"}),
    "anyio": frozenset({"anyio-asyncio", "anyio-trio"}),
    "trio": frozenset({"trio"}),
}


def _expected_variants() -> frozenset[str]:
    return _SETS.get(os.environ.get(_SET_VAR, ""), frozenset())


# How long the servers' own waits may take before the harness calls it a bug; far above
# anything a passing test needs, only there so a broken backend cannot hang the run.
GUARD = 10.0


# --------------------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netbackend", "network backend conformance suite")
    group.addoption(
        "--netbackend",
        default=None,
        metavar="MODULE:CLASS",
        help=(
            "run the conformance suite against this backend class instead of the "
            f"built-in ones (also read from ${_ENV_VAR})"
        ),
    )
    group.addoption(
        "--netbackend-loops",
        default=None,
        metavar="LOOPS",
        help=(
            "for an async --netbackend: comma-separated event loops to run it on "
            f"(default 'asyncio,trio'; also read from ${_ENV_LOOPS})"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    # Registered here as well as in the repository's pytest.toml so the directory also
    # runs on its own (copied into another project, or with ``-c /dev/null``).
    config.addinivalue_line("markers", "slow: takes more than a second (large transfers)")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    # The option only exists when this conftest was loaded early enough to add it (it
    # is when the directory is named on the command line); the variable always works.
    value = config.getoption(name, default=None)
    if value is None:
        value = os.environ.get(env) or None
    return typing.cast("str | None", value)


def _load_target(target: str) -> type[typing.Any]:
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise pytest.UsageError(f"--netbackend wants MODULE:CLASS, got {target!r}")
    module = __import__(module_name, fromlist=["_"])
    obj: typing.Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return typing.cast("type[typing.Any]", obj)


def _is_async_backend(cls: type[typing.Any]) -> bool:
    if issubclass(cls, AsyncNetworkBackend):
        return True
    if issubclass(cls, NetworkBackend):
        return False
    return inspect.iscoroutinefunction(getattr(cls, "connect_tcp", None))


@dataclasses.dataclass(frozen=True)
class BackendCase:
    """One variant of the suite: a backend class and the loop that drives the test body.

    Attributes:
        name: The variant id shown in test names.
        factory: Makes a fresh backend instance.
        is_async: Whether the backend's methods are coroutines.
        loop: ``"asyncio"`` or ``"trio"``: what anyio runs the test body on.
    """

    name: str
    factory: Callable[[], typing.Any]
    is_async: bool
    loop: str


def _custom_variants(config: pytest.Config) -> list[str] | None:
    target = _option(config, "netbackend", _ENV_VAR)
    if target is None:
        return None
    cls = _load_target(target)
    if not _is_async_backend(cls):
        return ["custom-sync"]
    loops = _option(config, "netbackend_loops", _ENV_LOOPS) or "asyncio,trio"
    chosen = [loop.strip() for loop in loops.split(",") if loop.strip()]
    for loop in chosen:
        if loop not in ("asyncio", "trio"):
            raise pytest.UsageError(f"unknown event loop {loop!r}: use asyncio and/or trio")
    return [f"custom-{loop}" for loop in chosen]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_case" in metafunc.fixturenames:
        variants = _custom_variants(metafunc.config) or list(BUILTIN_VARIANTS)
        metafunc.parametrize("backend_case", variants, indirect=True)


def _import_for(variant: str, name: str) -> typing.Any:
    """Import what ``variant`` needs: skip when it is missing, fail if CI promised it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if variant in _expected_variants():
            pytest.fail(f"{_SET_VAR} promises the {variant} variant, but: {exc}")
        pytest.skip(f"{variant}: {name} is not installed")


@pytest.fixture
def backend_case(request: pytest.FixtureRequest) -> BackendCase:
    """The variant under test; skips when its package is not installed (see _import_for)."""
    variant = str(request.param)
    if variant.startswith("custom-"):
        target = _option(request.config, "netbackend", _ENV_VAR)
        assert target is not None
        cls = _load_target(target)
        is_async = _is_async_backend(cls)
        loop = variant.removeprefix("custom-")
        return BackendCase(variant, cls, is_async, "asyncio" if loop == "sync" else loop)
    module_name, class_name, loop = _BUILTIN[variant]
    module = _import_for(variant, module_name)
    if loop == "trio":
        # anyio can only drive a trio variant when trio itself is installed.
        _import_for(variant, "trio")
    # An installed package without its class is a broken backend, not a missing one.
    found: type[typing.Any] | None = getattr(module, class_name, None)
    if found is None:
        pytest.fail(f"{module_name} is installed but has no {class_name}")
    return BackendCase(variant, found, variant != "sync", loop)


@pytest.fixture
def anyio_backend(backend_case: BackendCase) -> str:
    """Run each test body on the event loop its variant needs (overrides the root one)."""
    return backend_case.loop


# --------------------------------------------------------------------------- adapter

Raw = NetworkStream | AsyncNetworkStream


class Stream:
    """One stream of the backend under test, with an async face whatever its kind."""

    def __init__(self, raw: Raw, is_async: bool, registry: list[Stream]) -> None:
        self.raw = raw
        self._is_async = is_async
        self._registry = registry
        registry.append(self)

    async def _call(self, name: str, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        method = getattr(self.raw, name)
        if self._is_async:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._call("read", max_bytes, timeout=timeout)
        assert isinstance(data, bytes), f"read() returned {type(data).__name__}, not bytes"
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._call("write", buffer, timeout=timeout)

    async def close(self) -> None:
        await self._call("aclose" if self._is_async else "close")

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> Stream:
        raw = await self._call(
            "start_tls", ssl_context, server_hostname=server_hostname, timeout=timeout
        )
        return Stream(raw, self._is_async, self._registry)

    def get_extra_info(self, info: str) -> typing.Any:
        return self.raw.get_extra_info(info)

    async def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        chunks: list[bytes] = []
        remaining = n
        while remaining:
            chunk = await self.read(min(remaining, 65536), timeout=timeout)
            if not chunk:
                raise AssertionError(f"EOF after {n - remaining} of {n} bytes")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


class Net:
    """The backend under test behind one async interface, plus test helpers."""

    def __init__(self, case: BackendCase) -> None:
        self.case = case
        self.is_async = case.is_async
        self.backend: typing.Any = case.factory()
        self.streams: list[Stream] = []

    async def _call(self, name: str, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        method = getattr(self.backend, name)
        if self.is_async:
            return await method(*args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> Stream:
        raw = await self._call(
            "connect_tcp",
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        return Stream(raw, self.is_async, self.streams)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> Stream:
        raw = await self._call(
            "connect_unix_socket", path, timeout=timeout, socket_options=socket_options
        )
        return Stream(raw, self.is_async, self.streams)

    def require_async(self) -> None:
        if not self.is_async:
            pytest.skip("cancellation only exists for async backends")

    @contextlib.contextmanager
    def raises_exactly(self, expected: type[Exception]) -> Iterator[None]:
        """Expect exactly ``expected`` (not a subclass, not an ``OSError``, not a group)."""
        try:
            yield
        except Exception as exc:
            if type(exc) is not expected:
                kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
                pytest.fail(f"expected exactly {expected.__name__}, got {kind}: {exc!r}")
            return
        pytest.fail(f"{expected.__name__} was not raised")

    async def close_all(self) -> None:
        # Newest first: a TLS stream before the stream it wraps.
        for stream in reversed(self.streams):
            with contextlib.suppress(Exception):
                await stream.close()


@pytest.fixture
async def net(backend_case: BackendCase) -> AsyncIterator[Net]:
    """The backend under test; every stream it opened is closed again at teardown."""
    harness = Net(backend_case)
    try:
        yield harness
    finally:
        await harness.close_all()


# --------------------------------------------------------------------------- servers


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


def _listener(
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


@pytest.fixture(scope="session")
def payload() -> bytes:
    """16 MiB of incompressible bytes, the same on every run."""
    return random.Random(20240611).randbytes(16 * 1024 * 1024)


@pytest.fixture
def tcp_echo() -> Iterator[ThreadedServer]:
    """A TCP echo server on 127.0.0.1."""
    with serving(ThreadedServer(_listener(), echo_handler)) as server:
        yield server


@pytest.fixture
def tcp_bulk(payload: bytes) -> Iterator[ThreadedServer]:
    """A TCP server speaking the bulk upload/download protocol on 127.0.0.1."""
    with serving(ThreadedServer(_listener(), bulk_handler(payload))) as server:
        yield server


@pytest.fixture
def unix_path(tmp_path: Path) -> Iterator[str]:
    """A path for a Unix socket, short enough for ``sockaddr_un`` (108 bytes)."""
    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix domain sockets on this platform")
    path = tmp_path / "s.sock"
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="nbc-") as short:
        yield os.path.join(short, "s.sock")


@pytest.fixture
def unix_echo(unix_path: str) -> Iterator[ThreadedServer]:
    """A Unix-socket echo server; its ``address`` is the socket path."""
    listener = _listener(socket.AF_UNIX, unix_path)
    with serving(ThreadedServer(listener, echo_handler)) as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[ThreadedServer]:
    """Accepts TCP connections on 127.0.0.1 and never reads or writes a byte.

    Its small receive buffer makes a large write stall quickly. The test closes the
    server side of a connection through ``next_connection()`` / ``close_connections()``.
    """
    with serving(ThreadedServer(_listener(rcvbuf=4096), None)) as server:
        yield server


@dataclasses.dataclass
class NeverAccepts:
    """An address whose connection attempts hang: the listener's backlog is full."""

    host: str
    port: int


@contextlib.contextmanager
def _full_backlog(
    family: socket.AddressFamily, address: tuple[str, int]
) -> Iterator[socket.socket]:
    # listen(0) leaves room for one queued connection; the filler takes it, so the
    # kernel drops every later SYN and those connects hang until their own timeout.
    listener = _listener(family, address, backlog=0)
    filler = socket.socket(family, socket.SOCK_STREAM)
    try:
        filler.connect(listener.getsockname()[:2])
        yield listener
    finally:
        filler.close()
        listener.close()


@pytest.fixture
def never_accepts() -> Iterator[NeverAccepts]:
    """127.0.0.1 and a port where connecting hangs."""
    with _full_backlog(socket.AF_INET, ("127.0.0.1", 0)) as listener:
        yield NeverAccepts("127.0.0.1", listener.getsockname()[1])


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections.

    The socket stays bound but never listens, so nobody else can take the port while
    the test runs and the kernel answers every SYN with a reset.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


# --------------------------------------------------------------------------------- TLS


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


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The certificate authority the test clients trust."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1", "::1")


@pytest.fixture(scope="session")
def relay_cert(ca: trustme.CA) -> trustme.LeafCert:
    # A different name from the echo server's so a test can tell the two TLS layers apart.
    return ca.issue_cert("relay.test")


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
def _tls_server(
    cert: trustme.LeafCert,
    handler: Callable[[socket.socket], None],
    alpn: list[str] | None = None,
) -> Iterator[TLSServer]:
    sni: list[str | None] = []
    context = _server_context(cert, sni, alpn)
    with serving(ThreadedServer(_listener(), handler, tls=context)) as server:
        yield TLSServer(server, sni)


@pytest.fixture
def tls_echo(server_cert: trustme.LeafCert) -> Iterator[TLSServer]:
    """A TLS echo server for "localhost"/127.0.0.1, offering ALPN ["h2", "http/1.1"]."""
    with _tls_server(server_cert, echo_handler, ["h2", "http/1.1"]) as server:
        yield server


@pytest.fixture
def tls_bulk(server_cert: trustme.LeafCert, payload: bytes) -> Iterator[TLSServer]:
    """A TLS server speaking the bulk upload/download protocol."""
    with _tls_server(server_cert, bulk_handler(payload)) as server:
        yield server


@pytest.fixture
def tls_relay(relay_cert: trustme.LeafCert, tls_echo: TLSServer) -> Iterator[TLSServer]:
    """A TLS server for "relay.test" that forwards its plaintext to ``tls_echo``."""
    upstream = (tls_echo.host, tls_echo.port)
    with _tls_server(relay_cert, relay_handler(upstream)) as server:
        yield server


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client context trusting only the test CA, with hostname checks on."""
    # PROTOCOL_TLS_CLIENT verifies certificates and hostnames by default, like
    # create_default_context(), without the cost of loading the system CA store.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    ca.configure_trust(context)
    return context


@pytest.fixture
def alpn_context(client_context: ssl.SSLContext) -> ssl.SSLContext:
    """``client_context`` offering ALPN ["h2", "http/1.1"]."""
    client_context.set_alpn_protocols(["h2", "http/1.1"])
    return client_context


# ------------------------------------------------------------------------- utilities


@pytest.fixture
def open_fds() -> Callable[[], int]:
    """Count this process's open file descriptors (Linux ``/proc/self/fd``)."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to count open descriptors")

    def count() -> int:
        return len(os.listdir("/proc/self/fd"))

    return count


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
def _dual_port(attempts: int = 20) -> Iterator[socket.socket]:
    """Hang connects to ``::1`` on some port and yield a 127.0.0.1 listener on the same one."""
    for _ in range(attempts):
        with contextlib.ExitStack() as stack:
            v6 = stack.enter_context(_full_backlog(socket.AF_INET6, ("::1", 0)))
            try:
                v4 = _listener(socket.AF_INET, ("127.0.0.1", v6.getsockname()[1]))
            except OSError:
                continue  # the port is taken on IPv4: try another
            yield v4
            return
    raise RuntimeError("no port free on both ::1 and 127.0.0.1")


@pytest.fixture
def dual_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[DualStack]:
    """Make "dual.test" resolve to ['::1', '127.0.0.1'] where only IPv4 answers."""
    if not has_ipv6_loopback():
        pytest.skip("needs an IPv6 loopback (::1)")
    real_getaddrinfo = socket.getaddrinfo
    name = "dual.test"

    def fake_getaddrinfo(
        host: typing.Any,
        port_: typing.Any,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[typing.Any, ...]]:
        text = host.decode("ascii") if isinstance(host, bytes) else host
        # A numeric-only lookup of a name fails for real; trio relies on that.
        if text != name or flags & socket.AI_NUMERICHOST:
            return real_getaddrinfo(host, port_, family, type, proto, flags)
        number = int(port_) if port_ is not None else 0
        entries = [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("::1", number, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", number)),
        ]
        return [entry for entry in entries if family in (0, entry[0])]

    with _dual_port() as v4, serving(ThreadedServer(v4, echo_handler)) as echo:
        monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
        yield DualStack(name, echo.port, echo)
