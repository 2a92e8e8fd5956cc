"""The ``httptransport`` command, run as ``python -m httptransport`` in a subprocess.

Against loopback servers: conftest's threaded HTTP/1.1 server (plain and TLS), hypercorn
for HTTP/2, pproxy for a real proxy, and canned one-reply servers here (TCP or a Unix
socket) for the statuses and failures the others never produce. Each test checks the
exit status, what reached stdout and what was said on stderr.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from netbackend_base import BackendNotFoundError, find_backend, installed_backends

# Each test starts the command as a process (about 0.3 s or more): they run in the
# default matrix cell only (tests/conftest.py), as the command is the same in every
# cell; but for the one that needs a cell without some backend.
HEAVY = pytest.mark.heavy

GUARD = 30.0  # far above what a passing run needs: only there so a hang cannot stall CI


class Result(typing.NamedTuple):
    code: int
    stdout: bytes
    stderr: str


def cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> Result:
    """Run ``python -m httptransport *args`` and collect what it did."""
    proc = subprocess.run(
        [sys.executable, "-m", "httptransport", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=GUARD,
        cwd=cwd,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


@pytest.fixture
def sync_backend() -> None:
    """Skip unless a blocking backend is installed (the command's default)."""
    try:
        find_backend("sync")
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


class Canned:
    """A server that answers every connection with the same bytes, then closes it.

    Listens on 127.0.0.1, or on the Unix socket ``path``; records each request head.
    """

    def __init__(self, reply: bytes, path: str | None = None) -> None:
        self.reply = reply
        self.heads: list[bytes] = []
        if path is None:
            self._sock = socket.socket()
            self._sock.bind(("127.0.0.1", 0))
            self.port = int(self._sock.getsockname()[1])
        else:
            self._sock = socket.socket(socket.AF_UNIX)
            self._sock.bind(path)
            self.port = 0
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        break
                    head += data
                self.heads.append(head)
                with contextlib.suppress(OSError):
                    conn.sendall(self.reply)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)


@contextlib.contextmanager
def canned(reply: bytes, path: str | None = None) -> Iterator[Canned]:
    server = Canned(reply, path)
    try:
        yield server
    finally:
        server.close()


def ca_file(tls_ca: typing.Any, directory: Path) -> str:
    path = directory / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


# ------------------------------------------------------------------------ basic use


@HEAVY
def test_get_writes_the_body_to_stdout(server: typing.Any) -> None:
    result = cli(server.url("/"))
    assert result == Result(0, b"Hello, world!", "")
    request = server.requests[-1]
    assert request.method == b"GET"
    assert (b"user-agent", b"httptransport/" + _version()) in request.headers
    assert (b"accept", b"*/*") in request.headers


def _version() -> bytes:
    return importlib.metadata.version("httptransport").encode()


@HEAVY
@pytest.mark.parametrize("source", ["data", "data-file"])
def test_post_body(server: typing.Any, tmp_path: Path, source: str) -> None:
    """-d and --data-file send the body byte for byte; a body makes the method POST."""
    body = b"caf\xc3\xa9 \xff binary"  # not UTF-8: passed through as bytes
    if source == "data":
        result = cli("-d", body.decode("utf-8", "surrogateescape"), server.url("/echo"))
        method = b"POST"
    else:
        body += b"\x00"  # a file may hold anything
        (tmp_path / "body").write_bytes(body)
        result = cli("--data-file", str(tmp_path / "body"), "-X", "PUT", server.url("/echo"))
        method = b"PUT"
    assert result.code == 0, result.stderr
    assert result.stdout == body
    assert server.requests[-1].method == method


@HEAVY
def test_headers(server: typing.Any) -> None:
    """-H adds headers, replaces a default, and 'Name:' removes one (as in curl)."""
    result = cli(
        "-H",
        "X-Test: one two",
        "-H",
        "User-Agent: me/1",
        "-H",
        "Accept:",
        "-H",
        "X-Empty;",
        server.url("/headers"),
    )
    assert result.code == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    # The server (h11) reports names in lower case.
    assert "x-test: one two" in lines
    assert "user-agent: me/1" in lines
    assert "x-empty: " in lines
    assert not any(line.lower().startswith("accept") for line in lines)


@HEAVY
def test_verbose_shows_both_heads(server: typing.Any) -> None:
    result = cli("-v", server.url("/"))
    assert result.code == 0
    assert result.stdout == b"Hello, world!"
    err = result.stderr.splitlines()
    assert f"* Connecting to 127.0.0.1 port {server.port}" in err
    assert "> GET / HTTP/1.1" in err
    assert f"> Host: 127.0.0.1:{server.port}" in err
    assert "< HTTP/1.1 200 OK" in err
    assert "< Content-Length: 13" in err
    assert err.index("> GET / HTTP/1.1") < err.index("< HTTP/1.1 200 OK")


@HEAVY
def test_trace_times_every_phase(server: typing.Any) -> None:
    result = cli("--trace", server.url("/"))
    assert result.code == 0
    assert result.stdout == b"Hello, world!"
    number = r"\d+\.\d{3}"
    for phase in (
        "connection.connect_tcp",
        "http11.send_request_headers",
        "http11.receive_response_headers",
        "http11.receive_response_body",
    ):
        assert re.search(rf"^{re.escape(phase)}\s+{number}\s+{number}$", result.stderr, re.M), phase
    assert re.search(r"^dns\s+-\s+\(no lookup: the host is an IP address\)$", result.stderr, re.M)
    for milestone in ("connect", "request sent", "first byte", "total"):
        assert re.search(rf"^{milestone}\s+{number}\s+\(time_", result.stderr, re.M), milestone
    assert re.search(r"^tls\s+-\s", result.stderr, re.M)  # plain http: no handshake


@HEAVY
@pytest.mark.parametrize("spec", [None, "anyio", "trio"])
def test_trace_times_the_lookup_apart(server: typing.Any, spec: str | None) -> None:
    """With --trace the name is looked up on a timed line of its own that ends before
    connect_tcp starts; the request still goes to, and names, the host."""
    args = ["--trace", "-v", f"http://localhost:{server.port}/"]
    if spec is not None:
        if spec not in {info.name for info in installed_backends()}:
            pytest.skip(f"netbackend-{spec} is not installed")
        args = ["--backend", spec, *args]
    result = cli(*args)
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    number = r"(\d+\.\d{3})"
    resolve = re.search(rf"^cli\.resolve\s+{number}\s+{number}$", result.stderr, re.M)
    connect = re.search(rf"^connection\.connect_tcp\s+{number}\s+{number}$", result.stderr, re.M)
    dns = re.search(rf"^dns\s+{number}\s+\(time_namelookup\)$", result.stderr, re.M)
    assert resolve is not None, result.stderr
    assert connect is not None, result.stderr
    assert dns is not None, result.stderr
    assert resolve.start() < connect.start()  # listed first
    resolved_at = float(resolve[1]) + float(resolve[2])
    assert float(connect[1]) >= resolved_at - 0.002  # (each figure is rounded to 1 µs)
    assert abs(float(dns[1]) - resolved_at) <= 0.002
    err = result.stderr.splitlines()
    assert "* Resolving localhost" in err
    assert "* Resolved to 127.0.0.1" in err
    assert f"* Connecting to localhost port {server.port}" in err
    assert f"* Connected (127.0.0.1 port {server.port})" in err
    assert (b"host", f"localhost:{server.port}".encode()) in server.requests[-1].headers


@HEAVY
def test_trace_lookup_keeps_the_name_for_tls(
    tls_server: typing.Any, tls_ca: typing.Any, tmp_path: Path
) -> None:
    """The connection goes to the address looked up beforehand, but TLS still sends the
    name (SNI) and checks the certificate against it."""
    server_names: list[str | None] = []
    tls_server._ssl_context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    url = f"https://localhost:{tls_server.port}/"
    result = cli("--trace", "--cacert", ca_file(tls_ca, tmp_path), url)
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert server_names == ["localhost"]
    assert re.search(r"^cli\.resolve\s+\d+\.\d{3}\s+\d+\.\d{3}$", result.stderr, re.M)
    assert re.search(r"^tls\s+\d+\.\d{3}\s+\(time_appconnect", result.stderr, re.M)
    assert (b"host", f"localhost:{tls_server.port}".encode()) in tls_server.requests[-1].headers


@HEAVY
def test_http2_with_tls_and_trace(
    h2_server: typing.Any, tls_ca: typing.Any, tmp_path: Path
) -> None:
    srv = h2_server()
    result = cli("--http2", "--cacert", ca_file(tls_ca, tmp_path), "-v", "--trace", srv.url("/"))
    assert result.code == 0, result.stderr
    assert result.stdout == b"hello"
    assert "ALPN: h2" in result.stderr
    assert "> GET / HTTP/2" in result.stderr
    assert "< HTTP/2 200" in result.stderr
    assert re.search(r"^connection\.start_tls\s+\d", result.stderr, re.M)
    assert re.search(r"^tls\s+\d+\.\d{3}\s+\(time_appconnect", result.stderr, re.M)


@HEAVY
def test_unix_socket(sync_backend: None) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nvia uds"
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "s")
        with canned(reply, path) as srv:
            result = cli("--uds", path, "http://example.invalid/x")
    assert result == Result(0, b"via uds", "")
    assert srv.heads[0].startswith(b"GET /x HTTP/1.1\r\n")
    assert b"\r\nHost: example.invalid\r\n" in srv.heads[0]


def _load_proxies() -> typing.Any:
    name = "_httptransport_test_pproxy_server"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent / "proxies" / "pproxy_server.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


@HEAVY
def test_proxy_forwards(server: typing.Any) -> None:
    pytest.importorskip("pproxy")
    with _load_proxies().running_proxy("http") as proxy:
        result = cli("--proxy", f"http://127.0.0.1:{proxy.port}", "-v", server.url("/"))
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert f"* Connecting to 127.0.0.1 port {proxy.port}" in result.stderr


@HEAVY
def test_download(server: typing.Any, tmp_path: Path) -> None:
    """--download writes the file whole; stderr is no terminal here, so no progress bar."""
    target = tmp_path / "big.bin"
    result = cli("--download", str(target), server.url("/big"))
    assert result == Result(0, b"", "")
    assert target.read_bytes() == b"x" * (1024 * 1024)
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]  # no part file left


@HEAVY
@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_download_progress_bar_on_a_terminal(server: typing.Any, tmp_path: Path) -> None:
    import pty

    target = tmp_path / "big.bin"
    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "httptransport", "-o", str(target), server.url("/big")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    seen = b""
    with contextlib.suppress(OSError):  # EIO once the child has gone
        while data := os.read(parent, 4096):
            seen += data
    os.close(parent)
    assert proc.wait(GUARD) == 0
    assert target.stat().st_size == 1024 * 1024
    text = seen.decode()
    assert "\r[" in text
    assert "100.0%  1.0 MiB / 1.0 MiB" in text


# -------------------------------------------------------------------------- failures


@HEAVY
def test_timeout(sync_backend: None) -> None:
    """A server that accepts and never answers: exit 28 after --timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        result = cli("--timeout", "0.3", f"http://127.0.0.1:{port}/")
    assert result.code == 28
    assert result.stderr.startswith("httptransport: timed out waiting for data")
    assert result.stderr.count("\n") == 1


@HEAVY
def test_connection_refused(sync_backend: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(f"http://127.0.0.1:{port}/")
    assert result.code == 7
    assert result.stderr.startswith("httptransport: could not connect: ")
    assert "Traceback" not in result.stderr


@HEAVY
def test_untrusted_certificate(tls_server: typing.Any) -> None:
    result = cli(tls_server.url("/"))
    assert result.code == 60
    assert result.stdout == b""
    assert result.stderr.startswith("httptransport: TLS handshake with '127.0.0.1' failed: ")
    assert "unknown authority" in result.stderr
    assert "--cacert" in result.stderr
    assert result.stderr.count("\n") == 1


@HEAVY
def test_cacert_trusts_the_server(
    tls_server: typing.Any, tls_ca: typing.Any, tmp_path: Path
) -> None:
    result = cli("--cacert", ca_file(tls_ca, tmp_path), "-v", tls_server.url("/"))
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert "ALPN: http/1.1" in result.stderr


@HEAVY
def test_insecure_warns(tls_server: typing.Any) -> None:
    result = cli("-k", tls_server.url("/"))
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert "WARNING: --insecure" in result.stderr


@HEAVY
def test_missing_cacert_file(tmp_path: Path) -> None:
    result = cli("--cacert", str(tmp_path / "nope.pem"), "https://127.0.0.1:1/")
    if result.code == 4:
        pytest.skip(result.stderr)  # no backend: that is reported first
    assert result.code == 77
    assert "cannot load --cacert" in result.stderr


@HEAVY
def test_fail_on_http_error(sync_backend: None) -> None:
    reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\ngone"
    with canned(reply) as srv:
        url = f"http://127.0.0.1:{srv.port}/"
        plain = cli(url)
        failing = cli("--fail", url)
    assert plain == Result(0, b"gone", "")
    assert failing == Result(22, b"", "httptransport: HTTP error 404 Not Found\n")


@HEAVY
def test_protocol_error(sync_backend: None) -> None:
    with canned(b"this is not HTTP\r\n\r\n") as srv:
        result = cli(f"http://127.0.0.1:{srv.port}/")
    assert result.code == 8
    assert result.stderr.startswith("httptransport: protocol error: ")


@HEAVY
def test_proxy_refusal(sync_backend: None) -> None:
    """The proxy answers CONNECT with 403: exit 97."""
    with canned(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n") as proxy:
        result = cli("--proxy", f"http://127.0.0.1:{proxy.port}", "https://example.invalid/")
    assert result.code == 97
    assert result.stderr.startswith("httptransport: proxy error: ")
    assert proxy.heads[0].startswith(b"CONNECT example.invalid:443 HTTP/1.1\r\n")


# ------------------------------------------------------------------------- backends


@HEAVY
def test_unknown_backend() -> None:
    result = cli("--backend", "nosuch", "http://127.0.0.1:1/")
    assert result.code == 4
    assert result.stderr.startswith("httptransport: unknown backend 'nosuch' (installed: ")


def test_backend_not_installed_names_the_package() -> None:
    installed = {info.name for info in installed_backends()}
    missing = [name for name in ("sync", "anyio", "trio") if name not in installed]
    if not missing:
        pytest.skip("every backend is installed here")
    result = cli("--backend", missing[0], "http://127.0.0.1:1/")
    assert result.code == 4
    assert f"pip install netbackend-{missing[0]}" in result.stderr
    if "sync" in missing:  # the default needs a blocking backend
        result = cli("http://127.0.0.1:1/")
        assert result.code == 4
        assert result.stderr.endswith("pip install netbackend-sync\n")


@HEAVY
@pytest.mark.parametrize("spec", ["anyio", "trio"])
def test_async_backend(server: typing.Any, spec: str) -> None:
    """A backend for async code only runs the async pool on its event loop."""
    name = spec.partition(":")[0]
    if name not in {info.name for info in installed_backends()}:
        pytest.skip(f"netbackend-{name} is not installed")
    result = cli("--backend", spec, "--trace", server.url("/"))
    assert result.code == 0, result.stderr
    assert result.stdout == b"Hello, world!"
    assert "http11.receive_response_headers" in result.stderr


# ----------------------------------------------------------------------------- usage


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "the following arguments are required: URL"),
        (("-H", "no colon", "http://x/"), 2, "bad header 'no colon'"),
        (("--timeout", "soon", "http://x/"), 2, "not a number of seconds"),
        (("-d", "a", "--data-file", "f", "http://x/"), 2, "not allowed with argument"),
        (("ftp://example.com/",), 3, "unsupported URL scheme"),
    ],
    ids=["no-url", "bad-header", "bad-timeout", "two-bodies", "bad-scheme"],
)
@HEAVY
def test_usage_errors(args: tuple[str, ...], code: int, message: str) -> None:
    result = cli(*args)
    assert result.code == code
    assert result.stdout == b""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@HEAVY
def test_help_lists_the_exit_codes() -> None:
    result = cli("--help")
    assert result.code == 0
    help_text = result.stdout.decode()
    for code in (0, 2, 4, 6, 7, 8, 22, 28, 35, 56, 60, 97):
        assert re.search(rf"^\s+{code}  \w", help_text, re.M), code


@HEAVY
def test_console_script_is_declared() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts", name="httptransport")
    assert [ep.value for ep in scripts] == ["httptransport._cli:main"]
