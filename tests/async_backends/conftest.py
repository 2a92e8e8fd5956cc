"""Backend variants, servers, certificates and fd accounting for the async backends.

Every test that takes the ``case`` fixture runs once per async variant, each skipped
when its package is not installed:

* ``anyio-asyncio`` / ``anyio-trio``: ``netbackend_anyio.AnyIOBackend`` on each loop;
* ``trio``: ``netbackend_trio.TrioBackend`` on trio.

A missing package that ``NETBACKEND_TEST_SET`` (set by the CI matrix) says was installed
fails instead of skipping.

Servers run in plain threads with blocking sockets so that they work the same whichever
event loop the test runs on.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import socket
import ssl
import threading
import types
import typing
from collections.abc import Callable, Iterator

import pytest
import trustme

from netbackend_base import AsyncNetworkBackend

# The packages each CI backend set installs (see hatch.toml's matrix).
_SET_VAR = "NETBACKEND_TEST_SET"
_PROMISED = {
    "all": frozenset({"netbackend_anyio", "netbackend_trio"}),
    "anyio": frozenset({"netbackend_anyio"}),
    "trio": frozenset({"netbackend_trio"}),
}


def require_package(name: str) -> types.ModuleType:
    """Import backend package ``name``: skip when it is missing, fail if CI promised it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if name in _PROMISED.get(os.environ.get(_SET_VAR, ""), frozenset()):
            pytest.fail(f"{_SET_VAR} promises {name}, but: {exc}")
        pytest.skip(f"{name} is not installed")


@pytest.fixture
def require() -> Callable[[str], types.ModuleType]:
    """:func:`require_package`, for tests that need a backend package outside ``case``."""
    return require_package


@dataclasses.dataclass(frozen=True)
class AsyncCase:
    """One async backend variant.

    Attributes:
        backend_class: The public backend class under test.
        loop: The event loop anyio runs the test body on (``"asyncio"`` or ``"trio"``).
        timer_module: The module whose ``move_on_after`` the backend's timeouts use.
    """

    backend_class: type[AsyncNetworkBackend]
    loop: str
    timer_module: types.ModuleType

    def backend(self) -> AsyncNetworkBackend:
        """A fresh backend instance."""
        return self.backend_class()


# variant id -> (package, backend class, loop, module whose move_on_after it uses)
_VARIANTS = {
    "anyio-asyncio": ("netbackend_anyio", "AnyIOBackend", "asyncio", "anyio"),
    "anyio-trio": ("netbackend_anyio", "AnyIOBackend", "trio", "anyio"),
    "trio": ("netbackend_trio", "TrioBackend", "trio", "trio"),
}


@pytest.fixture(params=list(_VARIANTS))
def case(request: pytest.FixtureRequest) -> AsyncCase:
    """The async backend variant under test; skips when its package is not installed."""
    package, class_name, loop, timer = _VARIANTS[str(request.param)]
    module = require_package(package)
    if loop == "trio":
        pytest.importorskip("trio")
    found = getattr(module, class_name, None)
    if found is None:
        # An installed package without its class is a broken backend, not a missing one.
        pytest.fail(f"{package} is installed but has no {class_name}")
    return AsyncCase(found, loop, importlib.import_module(timer))


@pytest.fixture
def anyio_backend(case: AsyncCase) -> str:
    """Run each async test on the loop its variant needs (overrides the root fixture)."""
    return case.loop


Handler = Callable[[socket.socket], None]
DUAL_STACK_NAME = "dual.example.test"


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context for ``localhost`` and 127.0.0.1, offering h2 and http/1.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


@pytest.fixture
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    """A fresh client context that trusts ``ca``."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], int]]:
    """Start a 127.0.0.1 server whose connections each run ``handler`` in a thread."""
    listeners: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(handler: Handler) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def run(conn: socket.socket) -> None:
            with conn:
                try:
                    handler(conn)
                except (OSError, EOFError):
                    pass

        def accept_loop() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                thread = threading.Thread(target=run, args=(conn,), daemon=True)
                threads.append(thread)
                thread.start()

        thread = threading.Thread(target=accept_loop, daemon=True)
        threads.append(thread)
        thread.start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        # shutdown() wakes the thread blocked in accept(); close() alone may not.
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()
    for thread in threads:
        thread.join(timeout=5)


def upper_echo(conn: socket.socket | ssl.SSLSocket) -> None:
    """Send back everything received, upper-cased, until EOF."""
    while data := conn.recv(65536):
        conn.sendall(data.upper())


@pytest.fixture
def echo_port(serve: Callable[[Handler], int]) -> int:
    """A plain server that upper-cases what it receives."""
    return serve(upper_echo)


@pytest.fixture
def tls_echo_port(serve: Callable[[Handler], int], server_context: ssl.SSLContext) -> int:
    """A TLS server that upper-cases what it receives."""

    def handler(conn: socket.socket) -> None:
        with server_context.wrap_socket(conn, server_side=True) as tls:
            upper_echo(tls)

    return serve(handler)


@pytest.fixture
def tls_in_tls_port(serve: Callable[[Handler], int], server_context: ssl.SSLContext) -> int:
    """A TLS server that runs a second TLS server session inside the first one."""

    def handler(conn: socket.socket) -> None:
        with server_context.wrap_socket(conn, server_side=True) as outer:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            inner = server_context.wrap_bio(incoming, outgoing, server_side=True)

            def pump(call: Callable[[], typing.Any]) -> typing.Any:
                while True:
                    try:
                        result = call()
                    except ssl.SSLWantReadError:
                        if pending := outgoing.read():
                            outer.sendall(pending)
                        data = outer.recv(65536)
                        if not data:
                            raise EOFError() from None
                        incoming.write(data)
                        continue
                    if pending := outgoing.read():
                        outer.sendall(pending)
                    return result

            pump(inner.do_handshake)
            while data := pump(lambda: inner.read(65536)):
                pump(lambda: inner.write(data.upper()))

    return serve(handler)


@pytest.fixture
def fd_count() -> Callable[[], int]:
    """Count this process's open file descriptors."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    return lambda: len(os.listdir("/proc/self/fd"))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A 127.0.0.1 port whose listener completes TCP handshakes but never reads or writes."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield int(listener.getsockname()[1])


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections (bound, not listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    """A port where [::1] never answers a SYN while 127.0.0.1 accepts connections.

    The IPv6 listener has a backlog of 0 and one connection already queued, so the
    kernel drops further SYNs; the IPv4 listener completes handshakes without accepting.
    """
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.create_server(("127.0.0.1", 0), backlog=16) as v4:
        port = int(v4.getsockname()[1])
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        try:
            v6.bind(("::1", port))
        except OSError:
            v6.close()
            pytest.skip("cannot bind [::1] on the same port")
        with v6:
            v6.listen(0)
            with socket.create_connection(("::1", port), timeout=5):
                yield port


@pytest.fixture
def dual_stack_name(monkeypatch: pytest.MonkeyPatch) -> str:
    """A host name that resolves to ::1 and 127.0.0.1, in that order."""
    real = socket.getaddrinfo

    def fake(
        host: typing.Any, port: typing.Any, *args: typing.Any, **kwargs: typing.Any
    ) -> list[tuple[typing.Any, ...]]:
        if host != DUAL_STACK_NAME:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", int(port), 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port))),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return DUAL_STACK_NAME
