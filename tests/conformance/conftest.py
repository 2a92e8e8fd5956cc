"""Harness and fixtures for the cross-backend conformance suite.

Every test in this directory is written once, as an ``async`` function against the
small adapter :class:`Net` below, and runs once per backend variant:

* ``sync``: ``netbackend_sync.SyncBackend``, its blocking calls made in a worker thread
  (``anyio.to_thread.run_sync``) so the same async test body drives it;
* ``anyio-asyncio`` / ``anyio-trio``: ``netbackend_anyio.AnyIOBackend`` on each loop;
* ``trio``: ``netbackend_trio.TrioBackend``.

A variant whose package is not installed is skipped. ``--netbackend=module:Class`` (or
the ``NETBACKEND_CONFORMANCE`` environment variable) replaces the four variants with a
third-party backend; see README.md.

The servers behind the fixtures live in ``servers.py`` beside this file: plain threads
with blocking sockets, bound to 127.0.0.1 / ::1 only, so they behave the same whichever
event loop (or none) the client runs on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import os
import random
import socket
import ssl
import sys
import tempfile
import types
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


@dataclasses.dataclass
class Caught:
    """What :meth:`Net.raises_exactly` caught."""

    value: Exception | None = None


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

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        addresses = await self._call("resolve", host, family=family, timeout=timeout)
        assert isinstance(addresses, list), f"resolve() returned {type(addresses).__name__}"
        assert all(isinstance(address, str) for address in addresses), addresses
        return addresses

    def require_async(self) -> None:
        if not self.is_async:
            pytest.skip("cancellation only exists for async backends")

    @contextlib.contextmanager
    def raises_exactly(self, expected: type[Exception]) -> Iterator[Caught]:
        """Expect exactly ``expected`` (not a subclass, not an ``OSError``, not a group).

        The ``with`` target receives the exception as ``.value`` once the block is left.
        """
        caught = Caught()
        try:
            yield caught
        except Exception as exc:
            if type(exc) is not expected:
                kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
                pytest.fail(f"expected exactly {expected.__name__}, got {kind}: {exc!r}")
            caught.value = exc
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


def _load_servers() -> types.ModuleType:
    """Load ``servers.py`` beside this file, once (cached in ``sys.modules``).

    The tests run with ``--import-mode=importlib``, where neither ``import servers`` nor
    a relative import finds a sibling module, so it is loaded by path.
    """
    name = "_netbackend_conformance_servers"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("servers.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs: dataclasses look their module up in sys.modules.
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module


if typing.TYPE_CHECKING:
    from . import servers
    from .servers import DualStack, NeverAccepts, ThreadedServer, TLSServer
else:
    servers = _load_servers()


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
