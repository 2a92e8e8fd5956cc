"""What the ``httptransport`` command writes: the verbose heads, the phase timings
(``--trace``), the body's sink and the progress bar of ``--download``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import sys
import time
import typing

from ._cli_args import (
    EXIT_WRITE,
    PROGRESS_INTERVAL,
    BackendChoice,
    CLIError,
    Options,
    os_reason,
)
from ._models import Response

__all__ = ()

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
        if kind == "resolve":
            self._info(f"Resolving {info.get('host')}")
        elif kind == "connect_tcp":
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
        if kind == "resolve" and isinstance(stream, list):
            self._info(f"Resolved to {', '.join(map(str, stream))}")
            return
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
        lines += [f"> {as_text(name)}: {as_text(value)}" for name, value in request.headers]
        lines.append(">")
        self.err.write("\n".join(lines) + "\n")

    def response_head(self, response: Response) -> None:
        if not self.options.verbose:
            return
        version = response.extensions.get("http_version", b"HTTP/1.1")
        reason = response.extensions.get("reason_phrase", b"")
        status = f"< {as_text(version)} {response.status}"
        if reason:
            status += f" {as_text(reason)}"
        lines = [status]
        lines += [f"< {as_text(name)}: {as_text(value)}" for name, value in response.headers]
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
            raise CLIError(EXIT_WRITE, f"cannot write {download!r}: {os_reason(exc)}") from None
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
            if now - self._last_draw >= PROGRESS_INTERVAL:
                self._last_draw = now
                self._draw(now)

    def _write_failure(self, exc: OSError) -> str:
        if self.options.download is None:
            self.stdout_broken = True
        where = "stdout" if self.options.download is None else repr(self.options.download)
        return f"cannot write to {where}: {os_reason(exc)}"

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

    def _dns_note(self) -> str:
        """Why the dns milestone has no time."""
        if any(p.failed and p.name.rpartition(".")[2] == "resolve" for p in self.phases):
            return "the lookup failed"
        if self.options.uds is not None:
            return "no lookup: a Unix socket"
        return "no lookup: the host is an IP address"

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
                "time_namelookup" if dns is not None else self._dns_note(),
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


def as_text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    return value.decode("latin-1")


def _isatty(stream: typing.TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
