"""The command-line client's failure paths, in process: how each kind of failure is
told apart (exit status and message), what is left behind (no partial download, a
broken stdout silenced), and what ``--verbose`` and ``--trace`` say on the way.

``test_cli.py`` runs the command as a process against real servers; here ``main()``
runs in this process on byte-scripted mock backends (netbackend-mock), so that the
cases no server produces on cue (a write to stdout failing, Ctrl-C in the middle, a
backend that cannot be imported, trio missing) are as easy to reach as the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import importlib
import importlib.util
import io
import os
import socket
import ssl
import sys
import types
import typing
from pathlib import Path

import pytest

from httptransport import (
    ConnectTimeout,
    PoolTimeout,
    ProxyError,
    ReadTimeout,
    RemoteProtocolError,
    UnsupportedProtocol,
    WriteTimeout,
    _cli,
    _cli_output,
)
from httptransport._cli import (
    AsyncPinnedBackend,
    PinnedBackend,
    choose_backend,
    classify,
    list_backends,
    lookup_host,
    main,
)
from httptransport._cli_args import (
    EXIT_BACKEND,
    EXIT_BAD_URL,
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
    EXIT_WRITE,
    BackendChoice,
    CLIError,
    Options,
    build_parser,
    options_from,
)
from httptransport._cli_output import Session, as_text
from netbackend_base import (
    AsyncNetworkBackend,
    BackendInfo,
    ConnectError,
    NetworkBackend,
    ReadError,
    TimeoutException,
)
from netbackend_mock import AsyncMockBackend, MockBackend

URL = "http://127.0.0.1:8080/file"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"
# A body cut short: 10 of the 100 bytes promised, then the server hangs up.
SHORT = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"
# No Content-Length: the body runs to the end of the connection.
UNSIZED = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * 3000


def _options(*argv: str) -> Options:
    return options_from(build_parser().parse_args(list(argv)))


def _session(*argv: str) -> Session:
    return Session(_options(*argv, URL), BackendChoice(None, "sync", None))


class Result(typing.NamedTuple):
    code: int
    stdout: bytes
    stderr: str


class Terminal(io.StringIO):
    """A standard error that says it is a terminal (the progress bar draws on it)."""

    def isatty(self) -> bool:
        return True


def scripted(*chunks: bytes, loop: str = "sync") -> BackendChoice:
    """A backend choice whose every connection receives ``chunks``."""
    if loop == "sync":

        class Sync(MockBackend):
            def __init__(self) -> None:
                super().__init__(list(chunks))

        return BackendChoice("mock", "sync", Sync)

    class Async(AsyncMockBackend):
        def __init__(self) -> None:
            super().__init__(list(chunks))

    return BackendChoice("mock", loop, Async)


@pytest.fixture
def run(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> typing.Callable[..., Result]:
    """``run(choice, *argv, stderr=None)``: ``main(argv)`` with the backend ``choice``
    (``stderr``: a stream to use as standard error instead of the captured one)."""

    def call(choice: BackendChoice, *argv: str, stderr: typing.TextIO | None = None) -> Result:
        monkeypatch.setattr(_cli, "choose_backend", lambda spec: choice)
        if stderr is not None:
            monkeypatch.setattr(sys, "stderr", stderr)
        code = main(list(argv))
        out, err = capsysbinary.readouterr()
        if stderr is not None:
            err = typing.cast(io.StringIO, stderr).getvalue().encode()
        return Result(code, out, err.decode())

    return call


# ------------------------------------------------------------- main(), end to end


@pytest.mark.parametrize("loop", ["sync", "asyncio"])
def test_fail_on_an_http_error_writes_no_body(run: typing.Any, loop: str) -> None:
    assert run(scripted(NOT_FOUND, loop=loop), "--fail", URL) == Result(
        EXIT_HTTP_ERROR, b"", "httptransport: HTTP error 404 Not Found\n"
    )
    assert run(scripted(NOT_FOUND, loop=loop), URL) == Result(EXIT_OK, b"gone", "")


def test_interrupted_request_still_reports_its_timings(
    run: typing.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C: exit 130 with one line, after the --trace table (its total measured up
    to the interruption)."""

    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli, "_run", interrupted)
    result = run(scripted(OK), "--trace", URL)
    assert result.code == EXIT_INTERRUPTED
    assert result.stdout == b""
    table, _, last = result.stderr.rstrip("\n").rpartition("\n")
    assert last == "httptransport: interrupted"
    total = next(line for line in table.splitlines() if line.startswith("total "))
    assert total.split()[2] == "(time_total)"
    assert float(total.split()[1]) >= 0  # measured up to the interruption


class BrokenPipe(io.BytesIO):
    """A standard output whose reader has gone."""

    def __init__(self, *, on_flush: bool = False) -> None:
        super().__init__()
        self._on_flush = on_flush

    def write(self, data: typing.Any) -> int:
        if not self._on_flush:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return super().write(data)

    def flush(self) -> None:
        if self._on_flush:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")


@pytest.mark.parametrize("on_flush", [False, True], ids=["write", "flush"])
def test_broken_stdout_is_one_error_and_silenced(
    run: typing.Any, monkeypatch: pytest.MonkeyPatch, on_flush: bool
) -> None:
    """Standard output breaks (its reader exited): exit 23 with one line, and stdout's
    descriptor is pointed at the null device, so that Python's own flush at exit has
    nothing more to complain about."""
    read_end, write_end = os.pipe()
    try:
        stdout = types.SimpleNamespace(
            buffer=BrokenPipe(on_flush=on_flush), fileno=lambda: write_end
        )
        monkeypatch.setattr(sys, "stdout", stdout)
        result = run(scripted(OK), URL, stderr=io.StringIO())
        assert result == Result(
            EXIT_WRITE, b"", "httptransport: cannot write to stdout: Broken pipe\n"
        )
        os.write(write_end, b"lost")  # to the null device: the pipe has no writer left
        assert os.read(read_end, 100) == b""
    finally:
        os.close(read_end)
        os.close(write_end)


def test_download_into_a_missing_directory(run: typing.Any, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "file"
    result = run(scripted(OK), "-o", str(target), URL)
    assert result.code == EXIT_WRITE
    assert result.stderr.startswith(f"httptransport: cannot write {str(target)!r}: ")
    assert not target.parent.exists()


def test_failed_download_leaves_no_part_file(run: typing.Any, tmp_path: Path) -> None:
    """The body breaks off part-way: exit 8, the progress line is ended, and neither
    the file nor its part file is left."""
    target = tmp_path / "file"
    terminal = Terminal()
    result = run(scripted(SHORT), "-o", str(target), URL, stderr=terminal)
    assert result.code == EXIT_PROTOCOL
    *_, bar, message, end = result.stderr.split("\n")
    assert bar.startswith("\r[#")  # drawn once, with the size expected; then ended
    assert " 10.0%  10 B / 100 B  " in bar
    assert message.startswith("httptransport: protocol error: ")
    assert end == ""
    assert list(tmp_path.iterdir()) == []


def test_download_of_a_body_of_unknown_size(run: typing.Any, tmp_path: Path) -> None:
    """No Content-Length: the progress line shows the bytes so far and the rate, no
    bar, and the file is moved into place whole."""
    target = tmp_path / "file"
    result = run(scripted(UNSIZED), "-o", str(target), URL, stderr=Terminal())
    assert result.code == EXIT_OK, result.stderr
    assert target.read_bytes() == b"x" * 3000
    assert "\r2.9 KiB  " in result.stderr
    assert "[" not in result.stderr
    assert result.stderr.endswith("/s\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_list_backends(run: typing.Any) -> None:
    result = run(scripted(OK), "--list-backends")
    assert result.code == EXIT_OK
    assert result.stdout.decode() == list_backends() + "\n"


# ------------------------------------------------------------- failures, classified


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


def _cycle() -> BaseException:
    first, second = ConnectError("refused"), OSError("again")
    first.__context__ = second
    second.__context__ = first
    return first


@pytest.mark.parametrize(
    ("exc", "tls_failed", "code", "message"),
    [
        (ImportError("No module named 'h2'"), False, EXIT_BACKEND, "No module named 'h2'"),
        (ProxyError("403"), False, EXIT_PROXY, "proxy error: 403"),
        (ConnectTimeout("slow"), False, EXIT_TIMEOUT, "timed out connecting: slow"),
        (ReadTimeout(""), False, EXIT_TIMEOUT, "timed out waiting for data from the server"),
        (WriteTimeout("w"), False, EXIT_TIMEOUT, "timed out sending to the server: w"),
        (
            PoolTimeout("p"),
            False,
            EXIT_TIMEOUT,
            "timed out waiting for a connection from the pool: p",
        ),
        (TimeoutException(""), False, EXIT_TIMEOUT, "timed out"),
        (
            _caused(ConnectError("bad cert"), ssl.SSLCertVerificationError("unknown authority")),
            False,
            EXIT_TLS_VERIFY,
            "bad cert (use --cacert to trust a private CA)",
        ),
        (_caused(ConnectError("tls"), ssl.SSLError("alert")), False, EXIT_TLS, "tls"),
        (ConnectError("reset in handshake"), True, EXIT_TLS, "reset in handshake"),
        (
            _caused(ConnectError("no name"), socket.gaierror(-2, "Name or service not known")),
            False,
            EXIT_RESOLVE,
            "could not resolve host: no name",
        ),
        (ConnectError("refused"), False, EXIT_CONNECT, "could not connect: refused"),
        (_cycle(), False, EXIT_CONNECT, "could not connect: refused"),
        (UnsupportedProtocol("bad scheme"), False, EXIT_BAD_URL, "bad scheme"),
        (RemoteProtocolError("junk"), False, EXIT_PROTOCOL, "protocol error: junk"),
        (ReadError("reset"), False, EXIT_NETWORK, "network error: reset"),
        (RuntimeError("boom"), False, EXIT_UNEXPECTED, "unexpected error: RuntimeError: boom"),
        (ValueError(), False, EXIT_UNEXPECTED, "unexpected error: ValueError: ValueError"),
    ],
)
def test_classify(exc: BaseException, tls_failed: bool, code: int, message: str) -> None:
    error = classify(exc, tls_failed)
    assert (error.code, error.message) == (code, message)


def test_classify_keeps_a_cli_error() -> None:
    error = CLIError(EXIT_USAGE, "as it is")
    assert classify(error) is error


# ----------------------------------------------------------------------- backends


def _installed(monkeypatch: pytest.MonkeyPatch, *infos: BackendInfo) -> None:
    monkeypatch.setattr(_cli, "installed_backends", lambda: list(infos))


ASYNC_ONLY = BackendInfo(
    "fake", "netbackend_mock:AsyncMockBackend", ("asyncio", "trio"), "fake-dist"
)
BROKEN = BackendInfo("broken", "no_such_module_for_tests:Backend", ("sync",), None)


def test_no_backend_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch)
    assert list_backends() == "no network backend is installed: pip install netbackend-sync"
    with pytest.raises(CLIError) as info:
        choose_backend("trio")
    assert (info.value.code, info.value.message) == (
        EXIT_BACKEND,
        "backend 'trio' is not installed: pip install netbackend-trio",
    )
    with pytest.raises(CLIError) as info:
        choose_backend("other")
    assert info.value.message == "unknown backend 'other' (installed: none)"


def test_no_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from netbackend_base import BackendNotFoundError

    def missing(context: str) -> typing.NoReturn:
        raise BackendNotFoundError("no backend for sync code: pip install netbackend-sync")

    monkeypatch.setattr(_cli, "find_backend", missing)
    with pytest.raises(CLIError) as info:
        choose_backend(None)
    assert info.value.code == EXIT_BACKEND
    assert info.value.message.endswith("pip install netbackend-sync")


def test_async_only_backend_runs_on_its_loops(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, ASYNC_ONLY, BROKEN)
    assert choose_backend("fake") == BackendChoice("fake", "asyncio", AsyncMockBackend)
    assert choose_backend(" FAKE : Trio ").loop == "trio"
    with pytest.raises(CLIError) as info:
        choose_backend("fake:sync")
    assert info.value.message == "backend 'fake' does not run on sync (it serves: asyncio, trio)"
    listing = list_backends().splitlines()
    assert listing[0].split() == ["fake", "asyncio,", "trio", "fake-dist"]
    assert listing[1].split() == ["broken", "sync"]


def test_backend_that_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    _installed(monkeypatch, BROKEN)
    with pytest.raises(CLIError) as info:
        choose_backend("broken")
    assert info.value.code == EXIT_BACKEND
    assert info.value.message.startswith("backend 'broken' cannot be loaded: ")
    assert "no_such_module_for_tests" in info.value.message


def test_trio_loop_without_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def without_trio(name: str, package: str | None = None) -> types.ModuleType:
        if name == "trio":
            raise ImportError("No module named 'trio'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_trio)  # as _cli imports it
    options = _options(URL)
    choice = scripted(OK, loop="trio")
    with pytest.raises(CLIError) as info:
        _cli._run(options, Session(options, choice), choice)
    assert (info.value.code, info.value.message) == (
        EXIT_BACKEND,
        "running on trio needs trio: pip install trio",
    )


# ------------------------------------------------------------- pool and --trace setup


def test_pool_arguments_without_a_backend_or_with_a_bad_proxy() -> None:
    options = _options(URL)
    kwargs = _cli._pool_kwargs(options, BackendChoice(None, "sync", None))
    assert "network_backend" not in kwargs  # the pool finds the default itself
    assert kwargs["max_connections"] == 1
    bad = dataclasses.replace(options, proxy="gopher://proxy:70")
    with pytest.raises(CLIError) as info:
        _cli._pool_kwargs(bad, BackendChoice(None, "sync", None))
    assert info.value.code == EXIT_BAD_URL
    assert info.value.message.startswith("bad --proxy 'gopher://proxy:70': ")


@pytest.mark.parametrize("url", ["http://bücher.example/", "http://:80/"])
def test_nothing_to_look_up_for_a_host_the_pool_refuses(url: str) -> None:
    """A host that is not ASCII, or none at all: --trace leaves it to the pool to
    refuse (no lookup of its own)."""
    assert lookup_host(dataclasses.replace(_options(URL), url=url)) is None


class Unresolvable(NetworkBackend):
    def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        raise ConnectError(f"cannot resolve {host}")


class AsyncUnresolvable(AsyncNetworkBackend):
    async def resolve(
        self, host: str, family: int = socket.AF_UNSPEC, timeout: float | None = None
    ) -> list[str]:
        raise ConnectError(f"cannot resolve {host}")


def _failed_lookup_reported(session: Session) -> None:
    assert [(p.name, p.failed) for p in session.phases] == [("cli.resolve", True)]
    session.total = 0.5
    session.err = err = io.StringIO()
    session.report_trace()
    report = err.getvalue()
    assert "cli.resolve" in report
    assert " failed\n" in report
    assert "(the lookup failed)" in report


def test_failed_lookup_is_a_failed_phase() -> None:
    session = _session("--trace")
    pinned = PinnedBackend(Unresolvable(), "example.invalid")
    with pytest.raises(ConnectError, match=r"cannot resolve example\.invalid"):
        pinned.resolve_pinned(session, 1.0)
    assert pinned.addresses is None
    _failed_lookup_reported(session)


def test_failed_async_lookup_is_a_failed_phase() -> None:
    session = _session("--trace")
    pinned = AsyncPinnedBackend(AsyncUnresolvable(), "example.invalid")
    with pytest.raises(ConnectError, match=r"cannot resolve example\.invalid"):
        asyncio.run(pinned.resolve_pinned(session, 1.0))
    assert pinned.addresses is None
    _failed_lookup_reported(session)


# ------------------------------------------------------------------------ output


class FakeStream:
    def __init__(self, **extra: typing.Any) -> None:
        self._extra = extra

    def get_extra_info(self, info: str) -> typing.Any:
        return self._extra.get(info)


class FakeSSL:
    def cipher(self) -> None:
        return None

    def selected_alpn_protocol(self) -> None:
        return None

    def version(self) -> str:
        return "TLSv1.3"


def _verbose(*argv: str) -> tuple[Session, io.StringIO]:
    session = _session("-v", *argv)
    session.err = err = io.StringIO()
    return session, err


def test_verbose_unix_socket_and_tls_lines() -> None:
    session, err = _verbose("-k")
    stream = FakeStream(ssl_object=FakeSSL())
    session.event("connection.connect_unix_socket.started", {"path": "/run/app.sock"})
    session.event("connection.connect_unix_socket.complete", {"return_value": stream})
    session.event("connection.start_tls.started", {"server_hostname": "app"})
    session.event("connection.start_tls.complete", {"return_value": stream})
    assert err.getvalue().splitlines() == [
        "* Connecting to Unix socket /run/app.sock",
        "* Connected",
        "* TLS handshake with app",
        "* TLS: TLSv1.3, ALPN: none",
        "* certificate NOT verified (--insecure)",
    ]


def test_verbose_says_nothing_it_cannot_know() -> None:
    """No request in the event, no TLS object on the stream, a phase it does not
    describe, a stage that is neither a start nor an end: no line at all."""
    session, err = _verbose()
    session.event("http11.send_request_headers.started", {"request": None})
    session.event("http11.send_request_headers.complete", {"return_value": None})
    session.event("connection.start_tls.started", {"server_hostname": "h"})
    session.event("connection.start_tls.complete", {"return_value": FakeStream()})
    session.event("http11.receive_response_headers.started", {})
    session.event("http11.receive_response_headers.complete", {"return_value": FakeStream()})
    session.event("http11.response_closed.progress", {})
    assert err.getvalue() == "* TLS handshake with h\n"
    assert [p.name for p in session.phases] == [
        "http11.send_request_headers",
        "connection.start_tls",
        "http11.receive_response_headers",
    ]


def test_an_end_without_a_start_is_still_a_phase() -> None:
    """A phase whose start was not seen (a failed TLS handshake reported once) is timed
    from its end, and a failed start_tls marks the TLS failure for classify()."""
    session = _session("--trace")
    session.event("connection.start_tls.failed", {"exception": ssl.SSLError("x")})
    assert [(p.name, p.failed, p.end == p.start) for p in session.phases] == [
        ("connection.start_tls", True, True)
    ]
    assert session.tls_failed
    assert classify(ConnectError("eof in handshake"), session.tls_failed).code == EXIT_TLS


def test_trace_dns_notes() -> None:
    """Without a lookup the dns milestone says why: a Unix socket, an IP address."""
    for argv, note in [
        (("--uds", "/run/app.sock"), "no lookup: a Unix socket"),
        ((), "no lookup: the host is an IP address"),
    ]:
        session = _session("--trace", *argv)
        session.total = 0.25
        session.err = err = io.StringIO()
        session.report_trace()
        dns = next(line for line in err.getvalue().splitlines() if line.startswith("dns"))
        assert dns.split(None, 2)[1:] == ["-", f"({note})"]


def test_write_and_finish_failures_name_the_download() -> None:
    """Writing or saving a download fails: exit 23, naming the file; stdout is left
    alone (not marked broken)."""
    session = _session("-o", "/tmp/out.bin")
    session._sink = BrokenPipe()
    with pytest.raises(CLIError) as info:
        session.write(b"data")
    assert (info.value.code, info.value.message) == (
        EXIT_WRITE,
        "cannot write to '/tmp/out.bin': Broken pipe",
    )
    session._sink = BrokenPipe(on_flush=True)
    with pytest.raises(CLIError):
        session.finish()
    assert not session.stdout_broken


def test_content_length_that_is_not_a_number_is_no_size(tmp_path: Path) -> None:
    from httptransport import Response

    session = _session("-o", str(tmp_path / "f"))
    session.open_sink(Response(200, headers=[(b"Content-Length", b"1e3")]))
    try:
        assert session._expected is None
    finally:
        session.abandon()
    assert list(tmp_path.iterdir()) == []


def test_text_helpers() -> None:
    assert as_text("already text") == "already text"
    assert as_text(b"caf\xe9") == "café"
    assert _cli_output._isatty(typing.cast(typing.TextIO, object())) is False


# ---------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("-H", "X-Bad: one\rtwo", URL), EXIT_USAGE, "line breaks are not allowed"),
        (("http://127.0.0.1:99999/",), EXIT_BAD_URL, "malformed URL 'http://127.0.0.1:99999/'"),
    ],
)
def test_more_bad_arguments(argv: tuple[str, ...], code: int, message: str) -> None:
    with pytest.raises(CLIError) as info:
        _options(*argv)
    assert info.value.code == code
    assert message in info.value.message


def test_removing_a_header_that_is_not_a_default_sends_nothing() -> None:
    headers = _options("-H", "X-Gone:", "-H", "X-Empty;", URL).headers
    assert [name for name, _ in headers] == [b"User-Agent", b"Accept", b"X-Empty"]
    assert headers[-1] == (b"X-Empty", b"")


def test_body_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x00from stdin")))
    options = _options("--data-file", "-", URL)
    assert (options.method, options.body) == ("POST", b"\x00from stdin")


def test_http2_without_h2(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def no_h2(name: str, package: str | None = None) -> typing.Any:
        return None if name == "h2" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", no_h2)  # as _cli_args looks it up
    for flag in ("--http2", "--http2-prior-knowledge"):
        with pytest.raises(CLIError) as info:
            _options(flag, URL)
        assert (info.value.code, info.value.message) == (
            EXIT_BACKEND,
            "HTTP/2 needs the h2 package: pip install httptransport[http2]",
        )
    assert _options(URL).http2 is False  # HTTP/1.1 needs no h2
