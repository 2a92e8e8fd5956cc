"""The conformance kit's fixtures, and the parametrization over backend variants.

Imported by the kit's ``conftest.py`` (``from netbackend_base.testing.fixtures import
*``), which gives them the kit directory's scope; a test tree that runs the kit's test
modules from elsewhere does the same in its own ``conftest.py``. Every test that takes
``net`` runs once per variant that :func:`~netbackend_base.testing.harness.select_variants`
picks.

The servers behind the fixtures are in :mod:`netbackend_base.testing.servers`: plain
threads with blocking sockets, bound to 127.0.0.1 / ::1 only, so they behave the same
whichever event loop (or none) the client runs on.
"""

from __future__ import annotations

import os
import random
import socket
import ssl
import tempfile
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trustme

from netbackend_base.testing import servers
from netbackend_base.testing.harness import BackendCase, Net, Variant, load_case, select_variants
from netbackend_base.testing.servers import DualStack, NeverAccepts, ThreadedServer, TLSServer

__all__ = (
    "alpn_context",
    "anyio_backend",
    "backend_case",
    "ca",
    "client_context",
    "dual_stack",
    "net",
    "never_accepts",
    "open_fds",
    "payload",
    "pytest_configure",
    "pytest_generate_tests",
    "refused_port",
    "relay_cert",
    "server_cert",
    "silent_server",
    "tcp_bulk",
    "tcp_echo",
    "tls_bulk",
    "tls_echo",
    "tls_relay",
    "unix_echo",
    "unix_path",
)

_NO_BACKEND = "no backend registered in the netbackend.* entry-point groups; try --netbackend"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a second (large transfers)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_case" not in metafunc.fixturenames:
        return
    variants = select_variants(metafunc.config)
    if not variants:
        skipped = pytest.param(None, marks=pytest.mark.skip(reason=_NO_BACKEND), id="no-backend")
        metafunc.parametrize("backend_case", [skipped], indirect=True)
        return
    ids = [variant.id for variant in variants]
    metafunc.parametrize("backend_case", variants, ids=ids, indirect=True)


# ------------------------------------------------------------------------- backends


@pytest.fixture
def backend_case(request: pytest.FixtureRequest) -> BackendCase:
    """The variant under test (skips when its event loop's library is not installed)."""
    variant = request.param
    assert isinstance(variant, Variant)
    return load_case(variant)


@pytest.fixture
def anyio_backend(backend_case: BackendCase) -> str:
    """Run each test body on the event loop its variant needs."""
    return backend_case.loop


@pytest.fixture
async def net(backend_case: BackendCase) -> AsyncIterator[Net]:
    """The backend under test; every stream it opened is closed again at teardown."""
    harness = Net(backend_case)
    try:
        yield harness
    finally:
        await harness.close_all()


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def payload() -> bytes:
    """16 MiB of incompressible bytes, the same on every run."""
    return random.Random(20240611).randbytes(16 * 1024 * 1024)


@pytest.fixture
def tcp_echo() -> Iterator[ThreadedServer]:
    """A TCP echo server on 127.0.0.1."""
    with servers.serving(
        servers.ThreadedServer(servers.listening_socket(), servers.echo_handler)
    ) as server:
        yield server


@pytest.fixture
def tcp_bulk(payload: bytes) -> Iterator[ThreadedServer]:
    """A TCP server speaking the bulk upload/download protocol on 127.0.0.1."""
    with servers.serving(
        servers.ThreadedServer(servers.listening_socket(), servers.bulk_handler(payload))
    ) as server:
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
    listener = servers.listening_socket(socket.AF_UNIX, unix_path)
    with servers.serving(servers.ThreadedServer(listener, servers.echo_handler)) as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[ThreadedServer]:
    """Accepts TCP connections on 127.0.0.1 and never reads or writes a byte.

    Its small receive buffer makes a large write stall quickly. The test closes the
    server side of a connection through ``next_connection()`` / ``close_connections()``.
    """
    with servers.serving(
        servers.ThreadedServer(servers.listening_socket(rcvbuf=4096), None)
    ) as server:
        yield server


@pytest.fixture
def never_accepts() -> Iterator[NeverAccepts]:
    """127.0.0.1 and a port where connecting hangs."""
    with servers.full_backlog(socket.AF_INET, ("127.0.0.1", 0)) as listener:
        yield servers.NeverAccepts("127.0.0.1", listener.getsockname()[1])


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


@pytest.fixture
def tls_echo(server_cert: trustme.LeafCert) -> Iterator[TLSServer]:
    """A TLS echo server for "localhost"/127.0.0.1, offering ALPN ["h2", "http/1.1"]."""
    with servers.tls_server(server_cert, servers.echo_handler, ["h2", "http/1.1"]) as server:
        yield server


@pytest.fixture
def tls_bulk(server_cert: trustme.LeafCert, payload: bytes) -> Iterator[TLSServer]:
    """A TLS server speaking the bulk upload/download protocol."""
    with servers.tls_server(server_cert, servers.bulk_handler(payload)) as server:
        yield server


@pytest.fixture
def tls_relay(relay_cert: trustme.LeafCert, tls_echo: TLSServer) -> Iterator[TLSServer]:
    """A TLS server for "relay.test" that forwards its plaintext to ``tls_echo``."""
    upstream = (tls_echo.host, tls_echo.port)
    with servers.tls_server(relay_cert, servers.relay_handler(upstream)) as server:
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


@pytest.fixture
def dual_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[DualStack]:
    """Make "dual.test" resolve to ['::1', '127.0.0.1'] where only IPv4 answers."""
    if not servers.has_ipv6_loopback():
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

    with (
        servers.dual_port() as v4,
        servers.serving(servers.ThreadedServer(v4, servers.echo_handler)) as echo,
    ):
        monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
        yield servers.DualStack(name, echo.port, echo)
