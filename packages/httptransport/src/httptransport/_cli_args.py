"""The ``httptransport`` command's arguments: exit statuses, the parser, and the
options it yields (no I/O beyond reading a ``--data-file``)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import string
import sys
import typing
import urllib.parse
from collections.abc import Sequence

from .__about__ import __version__
from ._models import URL
from ._proxy_model import Proxy

__all__ = ()

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
BACKEND_PACKAGES = {
    "sync": "netbackend-sync",
    "anyio": "netbackend-anyio",
    "trio": "netbackend-trio",
}

PROGRESS_INTERVAL = 0.1


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
        message = f"cannot read --data-file {path!r}: {os_reason(exc)}"
        raise CLIError(EXIT_READ_FILE, message) from None


def options_from(args: argparse.Namespace) -> Options:
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


def os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


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
