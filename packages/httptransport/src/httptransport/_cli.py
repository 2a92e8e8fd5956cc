"""The ``httptransport`` command: one HTTP request from the shell.

``httptransport URL`` (or ``python -m httptransport URL``) sends one request through a
connection pool and writes the response body to standard output, byte for byte. Options
choose the method, headers, body, protocol, backend, proxy, Unix socket, TLS trust and
timeouts; ``--verbose`` shows both heads on standard error, ``--trace`` the time each
phase took, and ``--download FILE`` saves the body with a progress bar on a terminal.

With ``--trace`` the host name is looked up on its own, before the request, so that the
lookup gets a timed line of its own (``cli.resolve``) instead of counting in
``connect_tcp``: the backends resolve inside ``connect_tcp``, where no trace event can
see it. The command asks the backend's ``resolve()`` for the name the pool will connect
to (the proxy's, when there is one), then hands the pool a backend that connects to
those addresses when asked for that name (:class:`PinnedBackend`). Everything above the
socket still sees the name: the ``Host`` header, TLS SNI and the certificate check. The
addresses are tried one after the other, in the resolver's order, within one connect
timeout, where the backend alone would race them (Happy Eyeballs). Without ``--trace``
nothing of this happens.

It needs nothing beyond the standard library and httptransport's own dependencies. The
blocking pool runs the request, so no async library is involved, unless ``--backend``
names a backend that serves only async code (``anyio``, ``trio``): then the async pool
runs under that backend's event loop, which is started here (asyncio from the standard
library; trio imported by name, only then). Backends are found through
:mod:`netbackend_base` discovery, never imported by name.

Failures end with a one-line message on standard error and an exit status that tells
them apart (:data:`EXIT_CODES`); the numbers are curl's where curl has the same case,
so scripts written around curl's codes keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import ipaddress
import os
import socket
import ssl
import sys
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence

from netbackend_base import (
    CONTEXTS,
    SOCKET_OPTION,
    AsyncNetworkBackend,
    AsyncNetworkStream,
    BackendNotFoundError,
    ConnectError,
    NetworkBackend,
    NetworkError,
    NetworkStream,
    TimeoutException,
    default_async_backend,
    default_backend,
    find_backend,
    find_ssl_error,
    installed_backends,
)

from ._async import AsyncConnectionPool
from ._cli_args import (
    BACKEND_PACKAGES,
    EXIT_BACKEND,
    EXIT_BAD_URL,
    EXIT_CA_FILE,
    EXIT_CODES,
    EXIT_CONNECT,
    EXIT_HTTP_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_PROTOCOL,
    EXIT_PROXY,
    EXIT_RESOLVE,
    EXIT_TIMEOUT,
    EXIT_TLS,
    EXIT_TLS_VERIFY,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    PROG,
    BackendChoice,
    CLIError,
    Options,
    build_parser,
    options_from,
    os_reason,
)
from ._cli_output import (
    Session,
    as_text,
)
from ._exceptions import (
    ConnectTimeout,
    PoolTimeout,
    ProtocolError,
    ProxyError,
    ReadTimeout,
    UnsupportedProtocol,
    WriteTimeout,
)
from ._models import URL, Response
from ._proxy_model import Proxy
from ._ssl import default_ssl_context
from ._sync import ConnectionPool

__all__ = ("EXIT_CODES", "main")

# --------------------------------------------------------------------------- setup


def _ssl_context(options: Options) -> ssl.SSLContext:
    if options.cacert is not None:
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.cacert)
        except OSError as exc:  # ssl.SSLError included: not PEM, no certificate in it
            message = f"cannot load --cacert {options.cacert!r}: {os_reason(exc)}"
            raise CLIError(EXIT_CA_FILE, message) from None
    else:
        context = default_ssl_context()
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def choose_backend(spec: str | None) -> BackendChoice:
    """Resolve ``--backend NAME[:LOOP]`` among the installed backends.

    Without a name: the preferred blocking backend. A backend that serves blocking code
    runs the blocking pool; one that serves only async code runs the async pool on the
    loop named after the colon, or on the first it serves (asyncio before trio).

    Raises:
        CLIError: (exit 4) nothing fits; the message names the package to install.
    """
    if spec is None:
        try:
            return BackendChoice(None, "sync", find_backend("sync"))
        except BackendNotFoundError as exc:
            raise CLIError(EXIT_BACKEND, str(exc)) from None
    name, _, loop = spec.partition(":")
    name, loop = name.strip().lower(), loop.strip().lower()
    infos = {info.name.lower(): info for info in installed_backends()}
    info = infos.get(name)
    if info is None:
        package = BACKEND_PACKAGES.get(name)
        if package is not None:
            message = f"backend {name!r} is not installed: pip install {package}"
        else:
            known = ", ".join(sorted(infos)) or "none"
            message = f"unknown backend {name!r} (installed: {known})"
        raise CLIError(EXIT_BACKEND, message)
    if loop:
        if loop not in CONTEXTS:
            raise CLIError(
                EXIT_USAGE, f"unknown loop {loop!r} in --backend: expected sync, asyncio or trio"
            )
        if loop not in info.contexts:
            served = ", ".join(info.contexts)
            raise CLIError(
                EXIT_BACKEND, f"backend {name!r} does not run on {loop} (it serves: {served})"
            )
    else:
        loop = "sync" if "sync" in info.contexts else info.contexts[0]
    try:
        cls = info.load()
    except ImportError as exc:
        raise CLIError(EXIT_BACKEND, f"backend {name!r} cannot be loaded: {exc}") from None
    return BackendChoice(info.name, loop, cls)


def list_backends() -> str:
    """The installed backends, one per line: name, contexts, distribution."""
    infos = installed_backends()
    if not infos:
        return "no network backend is installed: pip install netbackend-sync"
    return "\n".join(
        f"{info.name:<8} {', '.join(info.contexts):<20} {info.distribution or ''}".rstrip()
        for info in infos
    )


def _pool_kwargs(options: Options, backend: BackendChoice) -> dict[str, typing.Any]:
    context = _ssl_context(options)
    kwargs: dict[str, typing.Any] = {
        "ssl_context": context,
        "http1": options.http1,
        "http2": options.http2,
        "uds": options.uds,
        "max_connections": 1,
    }
    if options.proxy is not None:
        try:
            kwargs["proxy"] = Proxy(options.proxy, ssl_context=context)
        except (ValueError, TypeError) as exc:
            raise CLIError(EXIT_BAD_URL, f"bad --proxy {options.proxy!r}: {exc}") from None
    network_backend = backend.cls() if backend.cls is not None else None
    host = lookup_host(options) if options.trace else None
    if host is not None:
        if backend.loop == "sync":
            network_backend = PinnedBackend(network_backend or default_backend(), host)
        else:
            network_backend = AsyncPinnedBackend(network_backend or default_async_backend(), host)
    if network_backend is not None:
        kwargs["network_backend"] = network_backend
    return kwargs


def _connect_timeout(options: Options) -> float | None:
    return options.connect_timeout if options.connect_timeout is not None else options.timeout


def _extensions(options: Options, trace: Callable[..., typing.Any] | None) -> dict[str, typing.Any]:
    extensions: dict[str, typing.Any] = {}
    if options.timeout is not None or options.connect_timeout is not None:
        each = options.timeout
        connect = _connect_timeout(options)
        extensions["timeout"] = {"connect": connect, "read": each, "write": each, "pool": each}
    if trace is not None:
        extensions["trace"] = trace
    return extensions


# ------------------------------------------------------------- --trace: DNS apart


def lookup_host(options: Options) -> str | None:
    """The host name the pool will look up to connect: the proxy's when there is one,
    else the URL's; ``None`` for a Unix socket, an IP address or a URL the pool will
    refuse anyway (it reports that itself)."""
    if options.uds is not None:
        return None
    try:
        host = URL(options.proxy if options.proxy is not None else options.url).host
        name = host.decode("ascii")
    except (TypeError, ValueError):  # UnicodeError included
        return None
    if not name:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name
    return None


def _attempts(
    addresses: Sequence[str], timeout: float | None
) -> Iterator[tuple[str, float | None]]:
    """Each address in turn, with what is left of the one connect ``timeout`` for it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for address in addresses:
        yield address, None if deadline is None else max(deadline - time.monotonic(), 0.0)


class PinnedBackend(NetworkBackend):
    """A blocking backend that connects to addresses resolved beforehand for one name.

    Every call goes to ``backend``; but :meth:`connect_tcp` for ``host``, once
    :meth:`resolve_pinned` has run, connects to its addresses, one after the other in
    the resolver's order until one accepts, all within the one ``timeout``.
    """

    def __init__(self, backend: NetworkBackend, host: str) -> None:
        self.backend = backend
        self.host = host
        self.addresses: list[str] | None = None

    def resolve_pinned(self, session: Session, timeout: float | None) -> None:
        """Look ``host`` up through the backend, as the trace phase ``cli.resolve``."""
        session.event("cli.resolve.started", {"host": self.host, "timeout": timeout})
        try:
            addresses = self.backend.resolve(self.host, timeout=timeout)
        except BaseException as exc:
            session.event("cli.resolve.failed", {"exception": exc})
            raise
        session.event("cli.resolve.complete", {"return_value": addresses})
        self.addresses = addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        addresses = self.addresses
        if host != self.host or not addresses:
            return self.backend.connect_tcp(host, port, timeout, local_address, socket_options)
        options = tuple(socket_options or ())  # each attempt needs them; may be a generator
        failure: ConnectError | None = None
        for address, left in _attempts(addresses, timeout):
            try:
                return self.backend.connect_tcp(address, port, left, local_address, options)
            except ConnectError as exc:  # not ConnectTimeout: the time is up for all
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        return self.backend.connect_unix_socket(path, timeout, socket_options)

    def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        return self.backend.resolve(host, family, timeout)

    def sleep(self, seconds: float) -> None:
        self.backend.sleep(seconds)


class AsyncPinnedBackend(AsyncNetworkBackend):
    """The async twin of :class:`PinnedBackend`."""

    def __init__(self, backend: AsyncNetworkBackend, host: str) -> None:
        self.backend = backend
        self.host = host
        self.addresses: list[str] | None = None

    async def resolve_pinned(self, session: Session, timeout: float | None) -> None:
        """Look ``host`` up through the backend, as the trace phase ``cli.resolve``."""
        session.event("cli.resolve.started", {"host": self.host, "timeout": timeout})
        try:
            addresses = await self.backend.resolve(self.host, timeout=timeout)
        except BaseException as exc:
            session.event("cli.resolve.failed", {"exception": exc})
            raise
        session.event("cli.resolve.complete", {"return_value": addresses})
        self.addresses = addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        addresses = self.addresses
        if host != self.host or not addresses:
            return await self.backend.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        options = tuple(socket_options or ())
        failure: ConnectError | None = None
        for address, left in _attempts(addresses, timeout):
            try:
                return await self.backend.connect_tcp(address, port, left, local_address, options)
            except ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        return await self.backend.connect_unix_socket(path, timeout, socket_options)

    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        return await self.backend.resolve(host, family, timeout)

    async def sleep(self, seconds: float) -> None:
        await self.backend.sleep(seconds)


# ----------------------------------------------------------------------------- run


def _status_fails(options: Options, response: Response) -> bool:
    return options.fail and response.status >= 400


def _http_error(response: Response) -> CLIError:
    reason = as_text(response.extensions.get("reason_phrase", b""))
    return CLIError(EXIT_HTTP_ERROR, f"HTTP error {response.status} {reason}".rstrip())


def run_sync(options: Options, session: Session, backend: BackendChoice) -> int:
    """Send the request with the blocking pool."""
    trace = session.event if session.wants_trace() else None
    kwargs = _pool_kwargs(options, backend)
    with ConnectionPool(**kwargs) as pool:
        session.start()
        pinned = kwargs.get("network_backend")
        if isinstance(pinned, PinnedBackend):
            pinned.resolve_pinned(session, _connect_timeout(options))
        with pool.stream(
            options.method,
            options.url,
            headers=options.headers,
            content=options.body,
            extensions=_extensions(options, trace),
        ) as response:
            session.response_head(response)
            if _status_fails(options, response):
                raise _http_error(response)
            session.open_sink(response)
            for chunk in response.iter_stream():
                session.write(chunk)
    session.total = time.perf_counter() - session.t0
    session.finish()
    return EXIT_OK


async def run_async(options: Options, session: Session, backend: BackendChoice) -> int:
    """Send the request with the async pool (on a running asyncio or trio loop)."""
    trace = session.async_event if session.wants_trace() else None
    kwargs = _pool_kwargs(options, backend)
    async with AsyncConnectionPool(**kwargs) as pool:
        session.start()
        pinned = kwargs.get("network_backend")
        if isinstance(pinned, AsyncPinnedBackend):
            await pinned.resolve_pinned(session, _connect_timeout(options))
        async with pool.stream(
            options.method,
            options.url,
            headers=options.headers,
            content=options.body,
            extensions=_extensions(options, trace),
        ) as response:
            session.response_head(response)
            if _status_fails(options, response):
                raise _http_error(response)
            session.open_sink(response)
            async for chunk in response.aiter_stream():
                session.write(chunk)
    session.total = time.perf_counter() - session.t0
    session.finish()
    return EXIT_OK


def _run(options: Options, session: Session, backend: BackendChoice) -> int:
    if backend.loop == "sync":
        return run_sync(options, session, backend)
    if backend.loop == "asyncio":
        return asyncio.run(run_async(options, session, backend))
    try:
        trio = importlib.import_module("trio")
    except ImportError:
        raise CLIError(EXIT_BACKEND, "running on trio needs trio: pip install trio") from None
    return typing.cast(int, trio.run(run_async, options, session, backend))


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def classify(exc: BaseException, tls_failed: bool = False) -> CLIError:
    """The exit status and one-line message for an exception from a request."""
    if isinstance(exc, CLIError):
        return exc
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ImportError):  # BackendNotFoundError; h2 or socksio missing
        return CLIError(EXIT_BACKEND, text)
    if isinstance(exc, ProxyError):
        return CLIError(EXIT_PROXY, f"proxy error: {text}")
    if isinstance(exc, TimeoutException):
        what = {
            ConnectTimeout: "timed out connecting",
            ReadTimeout: "timed out waiting for data from the server",
            WriteTimeout: "timed out sending to the server",
            PoolTimeout: "timed out waiting for a connection from the pool",
        }.get(type(exc), "timed out")
        return CLIError(EXIT_TIMEOUT, f"{what}: {text}" if str(exc) else what)
    if isinstance(exc, ConnectError):
        ssl_error = find_ssl_error(exc)
        if isinstance(ssl_error, ssl.SSLCertVerificationError):
            return CLIError(
                EXIT_TLS_VERIFY,
                f"{text} (use --cacert to trust a private CA)",
            )
        if ssl_error is not None or tls_failed:
            return CLIError(EXIT_TLS, text)
        if _in_chain(exc, socket.gaierror):
            return CLIError(EXIT_RESOLVE, f"could not resolve host: {text}")
        return CLIError(EXIT_CONNECT, f"could not connect: {text}")
    if isinstance(exc, UnsupportedProtocol):
        return CLIError(EXIT_BAD_URL, text)
    if isinstance(exc, ProtocolError):
        return CLIError(EXIT_PROTOCOL, f"protocol error: {text}")
    if isinstance(exc, NetworkError):
        return CLIError(EXIT_NETWORK, f"network error: {text}")
    return CLIError(EXIT_UNEXPECTED, f"unexpected error: {type(exc).__name__}: {text}")


def _report(error: CLIError) -> None:
    sys.stderr.write(f"{PROG}: {error.message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status (see :data:`EXIT_CODES`)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with 2 on a usage error
    if args.list_backends:
        sys.stdout.write(list_backends() + "\n")
        return EXIT_OK
    if args.url is None:
        parser.error("the following arguments are required: URL")
    session: Session | None = None
    try:
        options = options_from(args)  # the arguments first, then what is installed
        backend = choose_backend(options.backend)
        if options.insecure:
            sys.stderr.write(
                f"{PROG}: WARNING: --insecure: the server's certificate and host name are "
                "NOT verified; anyone on the path can read and change this exchange\n"
            )
        session = Session(options, backend)
        code = _run(options, session, backend)
    except KeyboardInterrupt:
        error = CLIError(EXIT_INTERRUPTED, "interrupted")
    except Exception as exc:
        error = classify(exc, session is not None and session.tls_failed)
    else:
        assert session is not None
        session.report_trace()
        return code
    if session is not None:
        session.abandon()
        if session.total is None:
            session.total = time.perf_counter() - session.t0
        session.report_trace()
        if session.stdout_broken:
            _silence_stdout()
    _report(error)
    return error.code


def _silence_stdout() -> None:
    # Python flushes stdout at exit; after a broken pipe that would report a second error.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
