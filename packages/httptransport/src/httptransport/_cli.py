"""The ``httptransport`` command: one HTTP request from the shell.

``httptransport URL`` (or ``python -m httptransport URL``) sends one request through a
connection pool and writes the response body to standard output, byte for byte. Options
choose the method, headers, body, protocol, backend, proxy, Unix socket, TLS trust and
timeouts; ``--verbose`` shows both heads on standard error, ``--trace`` the time each
phase took, and ``--download FILE`` saves the body with a progress bar on a terminal.

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

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import importlib.util
import os
import shutil
import socket
import ssl
import string
import sys
import time
import typing
import urllib.parse
from collections.abc import Callable, Sequence

from netbackend_base import (
    CONTEXTS,
    BackendNotFoundError,
    ConnectError,
    NetworkError,
    TimeoutException,
    find_backend,
    find_ssl_error,
    installed_backends,
)

from .__about__ import __version__
from ._async import AsyncConnectionPool
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

PROG = "httptransport"

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_BAD_URL = 3
EXIT_BACKEND = 4
EXIT_RESOLVE = 6
EXIT_CONNECT = 7
EXIT_PROTOCOL = 8
EXIT_HTTP_ERROR = 22
EXIT_WRITE = 23
EXIT_READ_FILE = 26
EXIT_TIMEOUT = 28
EXIT_TLS = 35
EXIT_NETWORK = 56
EXIT_TLS_VERIFY = 60
EXIT_CA_FILE = 77
EXIT_PROXY = 97
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success (whatever the HTTP status, unless --fail)"),
    (EXIT_UNEXPECTED, "unexpected error (a bug: please report it)"),
    (EXIT_USAGE, "usage error: unknown option, missing or bad argument"),
    (EXIT_BAD_URL, "malformed URL or --proxy URL, or a scheme it does not support"),
    (EXIT_BACKEND, "network backend not installed or unknown; h2/socksio missing"),
    (EXIT_RESOLVE, "could not resolve the host name"),
    (EXIT_CONNECT, "could not connect (refused, unreachable, no such Unix socket)"),
    (EXIT_PROTOCOL, "HTTP protocol error (malformed response, connection closed early)"),
    (EXIT_HTTP_ERROR, "HTTP status 400 or above, with --fail"),
    (EXIT_WRITE, "could not write the output (stdout or --download file)"),
    (EXIT_READ_FILE, "could not read --data-file"),
    (EXIT_TIMEOUT, "timed out (--timeout / --connect-timeout)"),
    (EXIT_TLS, "TLS handshake failed (other than certificate verification)"),
    (EXIT_NETWORK, "other network error (connection reset or broken while transferring)"),
    (EXIT_TLS_VERIFY, "server certificate not verified (untrusted, expired, wrong host)"),
    (EXIT_CA_FILE, "could not load --cacert"),
    (EXIT_PROXY, "the proxy refused the request or its handshake failed"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
"""Every exit status the command uses, with its meaning (shown by ``--help``)."""

# The backend packages of this project, to name in "not installed" messages.
_BACKEND_PACKAGES = {
    "sync": "netbackend-sync",
    "anyio": "netbackend-anyio",
    "trio": "netbackend-trio",
}

_PROGRESS_INTERVAL = 0.1


class CLIError(Exception):
    """A failure to report in one line, with its exit status."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------- arguments


def _exit_code_table() -> str:
    lines = ["exit status:"]
    lines += [f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``httptransport`` command."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Send one HTTP request with httptransport and write the response body to "
            "stdout (binary-safe). Redirects are not followed, and no proxy is taken "
            "from the environment."
        ),
        epilog=_exit_code_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", metavar="URL", nargs="?", help="http:// or https:// URL")
    parser.add_argument(
        "-X",
        "--request",
        dest="method",
        metavar="METHOD",
        help="request method (default: GET, or POST when a body is given)",
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help=(
            "add a request header (repeatable); 'NAME:' removes a default header "
            "(User-Agent, Accept), 'NAME;' sends it with an empty value"
        ),
    )
    body = parser.add_mutually_exclusive_group()
    body.add_argument(
        "-d",
        "--data",
        metavar="DATA",
        help="request body, taken literally (UTF-8); no Content-Type is added",
    )
    body.add_argument(
        "--data-file",
        metavar="PATH",
        help="request body from a file, byte for byte ('-' reads stdin)",
    )
    protocol = parser.add_mutually_exclusive_group()
    protocol.add_argument(
        "--http1.1",
        dest="protocol",
        action="store_const",
        const="http1.1",
        help="HTTP/1.1 only (the default)",
    )
    protocol.add_argument(
        "--http2",
        dest="protocol",
        action="store_const",
        const="http2",
        help="offer HTTP/2 through ALPN on https:// (HTTP/1.1 otherwise); needs h2",
    )
    protocol.add_argument(
        "--http2-prior-knowledge",
        dest="protocol",
        action="store_const",
        const="h2-only",
        help="HTTP/2 only, also in clear text (h2c) on http://; needs h2",
    )
    parser.add_argument(
        "--backend",
        metavar="NAME[:LOOP]",
        help=(
            "network backend by name (see --list-backends); an async-only backend runs "
            "on its event loop: anyio on asyncio unless 'anyio:trio'"
        ),
    )
    parser.add_argument(
        "--list-backends",
        action="store_true",
        help="list the installed network backends and exit (URL not needed)",
    )
    parser.add_argument(
        "-x",
        "--proxy",
        metavar="URL",
        help="proxy: http://, https://, socks5://, socks5h://, socks4://, socks4a:// "
        "(credentials as user:password@host)",
    )
    parser.add_argument(
        "--uds",
        "--unix-socket",
        dest="uds",
        metavar="PATH",
        help="connect to this Unix socket instead of the URL's host and port",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="limit for each wait: connecting, each read, each write (default: none)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="limit for connecting only (TCP and TLS); overrides --timeout there",
    )
    parser.add_argument(
        "--cacert",
        metavar="PATH",
        help="trust only the CA certificates in this PEM file (default: certifi's bundle)",
    )
    parser.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="do NOT verify the server's certificate or host name (warns every time)",
    )
    parser.add_argument(
        "-f",
        "--fail",
        action="store_true",
        help=f"on an HTTP status >= 400 write no body and exit with {EXIT_HTTP_ERROR}",
    )
    parser.add_argument(
        "-o",
        "--download",
        metavar="FILE",
        help="save the body to FILE (written whole or not at all) instead of stdout; "
        "a progress bar shows on stderr when it is a terminal",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show connection details and the request and response heads on stderr",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="show the time of every phase on stderr (connect, TLS, first byte, total)",
    )
    parser.add_argument(
        "-s",
        "--silent",
        action="store_true",
        help="no progress bar (errors are still reported)",
    )
    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    return parser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


@dataclasses.dataclass
class Options:
    """What to do, checked and converted from the command line."""

    method: str
    url: str
    headers: list[tuple[bytes, bytes]]
    body: bytes | None
    http1: bool
    http2: bool
    backend: str | None
    proxy: str | None
    uds: str | None
    timeout: float | None
    connect_timeout: float | None
    cacert: str | None
    insecure: bool
    fail: bool
    download: str | None
    verbose: bool
    trace: bool
    silent: bool


def _parse_header(text: str) -> tuple[bytes, bytes | None]:
    """``'Name: value'`` as bytes; ``'Name:'`` gives ``None`` (remove the header) and
    ``'Name;'`` an empty value, as in curl."""
    value: bytes | None
    if text.endswith(";") and ":" not in text:
        name, value = text[:-1], b""
    else:
        name, colon, rest = text.partition(":")
        if not colon:
            raise CLIError(EXIT_USAGE, f"bad header {text!r}: expected 'Name: value'")
        stripped = rest.strip(" \t")
        value = stripped.encode("utf-8", "surrogateescape") if stripped else None
    name = name.strip()
    if not name or any(c in name for c in " \t\r\n") or not name.isascii():
        raise CLIError(EXIT_USAGE, f"bad header name in {text!r}")
    if value is not None and (b"\r" in value or b"\n" in value):
        raise CLIError(EXIT_USAGE, f"bad header {text!r}: line breaks are not allowed")
    return name.encode("ascii"), value


def _request_headers(given: Sequence[str]) -> list[tuple[bytes, bytes]]:
    """The defaults (``User-Agent``, ``Accept``) then the given headers; a given header
    replaces a default of that name, and ``'Name:'`` removes it."""
    defaults: dict[bytes, bytes | None] = {
        b"user-agent": f"{PROG}/{__version__}".encode("ascii"),
        b"accept": b"*/*",
    }
    spelled = {b"user-agent": b"User-Agent", b"accept": b"Accept"}
    extra: list[tuple[bytes, bytes]] = []
    for text in given:
        name, value = _parse_header(text)
        key = name.lower()
        if key in defaults:
            defaults[key] = value
            spelled[key] = name
        elif value is not None:
            extra.append((name, value))
    head = [(spelled[key], value) for key, value in defaults.items() if value is not None]
    return head + extra


def _check_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
        URL(url)
    except (ValueError, TypeError) as exc:
        raise CLIError(EXIT_BAD_URL, f"malformed URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise CLIError(
            EXIT_BAD_URL, f"unsupported URL scheme in {url!r}: expected http:// or https://"
        )
    if not parts.hostname:
        raise CLIError(EXIT_BAD_URL, f"malformed URL {url!r}: no host")


def _read_body(args: argparse.Namespace) -> bytes | None:
    if args.data is not None:
        return typing.cast(str, args.data).encode("utf-8", "surrogateescape")
    path: str | None = args.data_file
    if path is None:
        return None
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        message = f"cannot read --data-file {path!r}: {_os_reason(exc)}"
        raise CLIError(EXIT_READ_FILE, message) from None


def _options(args: argparse.Namespace) -> Options:
    url: str = args.url
    _check_url(url)
    if args.proxy is not None:
        try:
            Proxy(args.proxy)
        except (ValueError, TypeError) as exc:
            raise CLIError(EXIT_BAD_URL, f"bad --proxy {args.proxy!r}: {exc}") from None
    headers = _request_headers(args.headers)
    has_body = args.data is not None or args.data_file is not None
    method = args.method or ("POST" if has_body else "GET")
    if not method or not set(method) <= _TOKEN_CHARS:
        raise CLIError(EXIT_USAGE, f"bad method {method!r}")
    protocol = args.protocol or "http1.1"
    if protocol != "http1.1" and importlib.util.find_spec("h2") is None:
        raise CLIError(
            EXIT_BACKEND, "HTTP/2 needs the h2 package: pip install httptransport[http2]"
        )
    return Options(
        method=method,
        url=url,
        headers=headers,
        body=_read_body(args),
        http1=protocol != "h2-only",
        http2=protocol != "http1.1",
        backend=args.backend,
        proxy=args.proxy,
        uds=args.uds,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        cacert=args.cacert,
        insecure=args.insecure,
        fail=args.fail,
        download=args.download,
        verbose=args.verbose,
        trace=args.trace,
        silent=args.silent,
    )


# RFC 9110's tchar: what a method (a token) may be made of.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- setup


def _ssl_context(options: Options) -> ssl.SSLContext:
    if options.cacert is not None:
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.cacert)
        except OSError as exc:  # ssl.SSLError included: not PEM, no certificate in it
            message = f"cannot load --cacert {options.cacert!r}: {_os_reason(exc)}"
            raise CLIError(EXIT_CA_FILE, message) from None
    else:
        context = default_ssl_context()
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclasses.dataclass(frozen=True)
class BackendChoice:
    """The backend to use and how to run it.

    Attributes:
        name: The backend's entry-point name, or ``None`` for the default sync one.
        loop: ``"sync"`` (the blocking pool), ``"asyncio"`` or ``"trio"``.
        cls: The backend class, or ``None`` to let the pool find the default.
    """

    name: str | None
    loop: str
    cls: type[typing.Any] | None


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
        package = _BACKEND_PACKAGES.get(name)
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
    if backend.cls is not None:
        kwargs["network_backend"] = backend.cls()
    return kwargs


def _extensions(options: Options, trace: Callable[..., typing.Any] | None) -> dict[str, typing.Any]:
    extensions: dict[str, typing.Any] = {}
    if options.timeout is not None or options.connect_timeout is not None:
        each = options.timeout
        connect = options.connect_timeout if options.connect_timeout is not None else each
        extensions["timeout"] = {"connect": connect, "read": each, "write": each, "pool": each}
    if trace is not None:
        extensions["trace"] = trace
    return extensions


# ---------------------------------------------------------------------------- output


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


@dataclasses.dataclass
class _Phase:
    name: str
    start: float
    end: float | None = None
    failed: bool = False


class Session:
    """One request's output: the trace callback, the verbose heads, the body's sink,
    the progress bar and the timing table."""

    def __init__(self, options: Options, backend: BackendChoice) -> None:
        self.options = options
        self.backend = backend
        self.err = sys.stderr
        self.t0 = time.perf_counter()
        self.phases: list[_Phase] = []
        self._open: dict[str, _Phase] = {}
        self.tls_failed = False
        self.total: float | None = None
        self._sink: typing.BinaryIO | None = None
        self._part: str | None = None
        self._received = 0
        self._expected: int | None = None
        self._progress = bool(
            options.download is not None and not options.silent and _isatty(self.err)
        )
        self._last_draw = 0.0
        self.stdout_broken = False

    def start(self) -> None:
        """The request starts now: the origin of every time reported."""
        self.t0 = time.perf_counter()

    # -- trace
    def wants_trace(self) -> bool:
        return self.options.verbose or self.options.trace

    def event(self, name: str, info: dict[str, typing.Any]) -> None:
        """The ``trace`` extension's callback (sync; the async one wraps it)."""
        now = time.perf_counter() - self.t0
        phase_name, _, stage = name.rpartition(".")
        if stage == "started":
            phase = _Phase(phase_name, now)
            self.phases.append(phase)
            self._open[phase_name] = phase
            if self.options.verbose:
                self._verbose_started(phase_name, info)
        elif stage in ("complete", "failed"):
            opened = self._open.pop(phase_name, None)
            if opened is None:
                opened = _Phase(phase_name, now)
                self.phases.append(opened)
            phase = opened
            phase.end = now
            phase.failed = stage == "failed"
            if phase.failed and phase_name.endswith(".start_tls"):
                self.tls_failed = True
            if self.options.verbose and stage == "complete":
                self._verbose_complete(phase_name, info)

    async def async_event(self, name: str, info: dict[str, typing.Any]) -> None:
        """The ``trace`` callback for the async pool."""
        self.event(name, info)

    def _info(self, text: str) -> None:
        self.err.write(f"* {text}\n")

    def _verbose_started(self, phase: str, info: dict[str, typing.Any]) -> None:
        kind = phase.rpartition(".")[2]
        if kind == "connect_tcp":
            self._info(f"Connecting to {info.get('host')} port {info.get('port')}")
        elif kind == "connect_unix_socket":
            self._info(f"Connecting to Unix socket {info.get('path')}")
        elif kind == "start_tls":
            self._info(f"TLS handshake with {info.get('server_hostname')}")
        elif kind == "send_request_headers":
            request = info.get("request")
            if request is not None:
                self._request_head(phase, request)

    def _verbose_complete(self, phase: str, info: dict[str, typing.Any]) -> None:
        kind = phase.rpartition(".")[2]
        stream = info.get("return_value")
        if stream is None or not hasattr(stream, "get_extra_info"):
            return
        if kind == "connect_tcp":
            address = stream.get_extra_info("server_addr")
            where = f" ({address[0]} port {address[1]})" if isinstance(address, tuple) else ""
            self._info(f"Connected{where}")
        elif kind == "connect_unix_socket":
            self._info("Connected")
        elif kind == "start_tls":
            ssl_object = stream.get_extra_info("ssl_object")
            if ssl_object is not None:
                cipher = ssl_object.cipher()
                alpn = ssl_object.selected_alpn_protocol() or "none"
                suite = f" / {cipher[0]}" if cipher else ""
                self._info(f"TLS: {ssl_object.version()}{suite}, ALPN: {alpn}")
                if self.options.insecure:
                    self._info("certificate NOT verified (--insecure)")

    def _request_head(self, phase: str, request: typing.Any) -> None:
        version = "HTTP/2" if phase.startswith("http2.") else "HTTP/1.1"
        method = request.method.decode("ascii", "replace")
        target = request.url.target.decode("ascii", "replace")
        lines = [f"> {method} {target} {version}"]
        lines += [f"> {_text(name)}: {_text(value)}" for name, value in request.headers]
        lines.append(">")
        self.err.write("\n".join(lines) + "\n")

    def response_head(self, response: Response) -> None:
        if not self.options.verbose:
            return
        version = response.extensions.get("http_version", b"HTTP/1.1")
        reason = response.extensions.get("reason_phrase", b"")
        status = f"< {_text(version)} {response.status}"
        if reason:
            status += f" {_text(reason)}"
        lines = [status]
        lines += [f"< {_text(name)}: {_text(value)}" for name, value in response.headers]
        lines.append("<")
        self.err.write("\n".join(lines) + "\n")
        self.err.flush()

    # -- body
    def open_sink(self, response: Response) -> None:
        """Where the body goes: stdout, or a part file beside ``--download``."""
        download = self.options.download
        if download is None:
            self._sink = sys.stdout.buffer
            return
        for name, value in response.headers:
            if name.lower() == b"content-length" and value.isdigit():
                self._expected = int(value)
        directory, base = os.path.split(os.path.abspath(download))
        part = os.path.join(directory, f".{base}.{os.getpid()}.part")
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as exc:
            raise CLIError(EXIT_WRITE, f"cannot write {download!r}: {_os_reason(exc)}") from None
        self._part = part
        self._sink = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        assert self._sink is not None
        try:
            self._sink.write(chunk)
        except OSError as exc:
            raise CLIError(EXIT_WRITE, self._write_failure(exc)) from None
        self._received += len(chunk)
        if self._progress:
            now = time.perf_counter()
            if now - self._last_draw >= _PROGRESS_INTERVAL:
                self._last_draw = now
                self._draw(now)

    def _write_failure(self, exc: OSError) -> str:
        if self.options.download is None:
            self.stdout_broken = True
        where = "stdout" if self.options.download is None else repr(self.options.download)
        return f"cannot write to {where}: {_os_reason(exc)}"

    def finish(self) -> None:
        """The body is complete: flush it and move a download into place."""
        assert self._sink is not None
        try:
            self._sink.flush()
            if self._part is not None:
                self._sink.close()
                assert self.options.download is not None
                os.replace(self._part, self.options.download)
                self._part = None
        except OSError as exc:
            raise CLIError(EXIT_WRITE, self._write_failure(exc)) from None
        if self._progress:
            self._draw(time.perf_counter())
            self.err.write("\n")

    def abandon(self) -> None:
        """The transfer failed: remove a partial download."""
        if self._part is not None:
            if self._progress and self._received:
                self.err.write("\n")
            with contextlib.suppress(OSError):
                assert self._sink is not None
                self._sink.close()
            with contextlib.suppress(OSError):
                os.unlink(self._part)
            self._part = None

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.t0, 1e-9)
        done = self._received
        rate = f"{_size(done / elapsed)}/s"
        width = shutil.get_terminal_size((80, 24)).columns
        if self._expected:
            fraction = min(done / self._expected, 1.0)
            tail = f" {fraction * 100:5.1f}%  {_size(done)} / {_size(self._expected)}  {rate}"
            bar_width = max(width - len(tail) - 3, 10)
            filled = int(bar_width * fraction)
            line = "[" + "#" * filled + "." * (bar_width - filled) + "]" + tail
        else:
            line = f"{_size(done)}  {rate}"
        self.err.write("\r" + line[: width - 1])
        self.err.flush()

    # -- timings
    def report_trace(self) -> None:
        """The phases with their start and duration, then curl-style milestones."""
        if not self.options.trace:
            return
        rows = [("phase", "start ms", "took ms")]
        for phase in self.phases:
            took = "-" if phase.end is None else _ms(phase.end - phase.start)
            if phase.failed:
                took += " failed"
            rows.append((phase.name, _ms(phase.start), took))
        width = max(len(row[0]) for row in rows)
        lines = [f"{name:<{width}}  {start:>10}  {took:>10}" for name, start, took in rows]
        lines.append("")
        lines += self._milestones()
        self.err.write("\n".join(lines) + "\n")
        self.err.flush()

    def _end_of(self, *kinds: str, last: bool = False) -> float | None:
        ends = [
            p.end
            for p in self.phases
            if p.end is not None and not p.failed and p.name.rpartition(".")[2] in kinds
        ]
        if not ends:
            return None
        return ends[-1] if last else ends[0]

    def _milestones(self) -> list[str]:
        dns = self._end_of("resolve", "dns")
        connect = self._end_of("connect_tcp", "connect_unix_socket")
        tls = self._end_of("start_tls", last=True)
        sent = self._end_of("send_request_body", "send_request_headers", last=True)
        first = self._end_of("receive_response_headers", last=True)
        rows: list[tuple[str, str, str]] = [
            (
                "dns",
                _ms(dns) if dns is not None else "-",
                "time_namelookup"
                if dns is not None
                else "part of connect: the backend resolves and connects in one step",
            ),
            ("connect", _ms(connect) if connect is not None else "-", "time_connect"),
            ("tls", _ms(tls) if tls is not None else "-", "time_appconnect"),
            ("request sent", _ms(sent) if sent is not None else "-", "time_pretransfer"),
            ("first byte", _ms(first) if first is not None else "-", "time_starttransfer"),
            ("total", _ms(self.total) if self.total is not None else "-", "time_total"),
        ]
        lines = ["milestone     ms since start  (curl -w)"]
        lines += [f"{name:<12}  {at:>14}  ({note})" for name, at, note in rows]
        return lines


def _text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    return value.decode("latin-1")


def _isatty(stream: typing.TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- run


def _status_fails(options: Options, response: Response) -> bool:
    return options.fail and response.status >= 400


def _http_error(response: Response) -> CLIError:
    reason = _text(response.extensions.get("reason_phrase", b""))
    return CLIError(EXIT_HTTP_ERROR, f"HTTP error {response.status} {reason}".rstrip())


def run_sync(options: Options, session: Session, backend: BackendChoice) -> int:
    """Send the request with the blocking pool."""
    trace = session.event if session.wants_trace() else None
    with ConnectionPool(**_pool_kwargs(options, backend)) as pool:
        session.start()
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
    async with AsyncConnectionPool(**_pool_kwargs(options, backend)) as pool:
        session.start()
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
        options = _options(args)  # the arguments first, then what is installed
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
