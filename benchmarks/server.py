"""nginx on 127.0.0.1 as a non-daemon child process with a generated config in a temp dir."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from scenarios import LARGE_SIZE, SMALL_SIZE

HOST = "127.0.0.1"

_CERT_SCRIPT = """
import sys, trustme
ca = trustme.CA()
cert = ca.issue_cert("127.0.0.1", "localhost")
ca.cert_pem.write_to_path(sys.argv[1])
cert.private_key_and_cert_chain_pem.write_to_path(sys.argv[2])
"""


def find_nginx() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def ensure_nginx() -> str:
    """Return nginx's path, installing Debian's package when it is missing."""
    found = find_nginx()
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "nginx"]
    print("nginx not found: apt-get install -y nginx", flush=True)
    if subprocess.run(install, env=env, check=False).returncode != 0:
        print("install failed: apt-get update, then retry", flush=True)
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = find_nginx()
    if not found:
        raise SystemExit("nginx is still missing after apt-get install")
    return found


def nginx_version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    return tuple(int(x) for x in match.groups()) if match else (0, 0, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Nginx:
    """Context manager: ``with Nginx(binary, python) as server: server.http_port ...``."""

    def __init__(self, binary: str, venv_python: str, cpu: int | None = None) -> None:
        self.binary = binary
        self.venv_python = venv_python
        self.cpu = cpu
        self.version = nginx_version(binary)
        self.http_port = _free_port()
        self.tls_port = _free_port()
        self.h2c_port = _free_port()
        self.tls_resume_port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.ca_file = str(self.dir / "ca.pem")
        self.proc: subprocess.Popen[bytes] | None = None

    # -- config -----------------------------------------------------------------------
    def _write_files(self) -> None:
        www = self.dir / "www"
        www.mkdir()
        (www / "1k").write_bytes(os.urandom(SMALL_SIZE))
        with open(www / "16m", "wb") as f:
            block = os.urandom(1024 * 1024)
            for _ in range(LARGE_SIZE // len(block)):
                f.write(block)
        for sub in ("logs", "tmp"):
            (self.dir / sub).mkdir()
        subprocess.run(
            [self.venv_python, "-c", _CERT_SCRIPT, self.ca_file, str(self.dir / "server.pem")],
            check=True,
        )
        # The worker process runs unprivileged (nobody) when the master is root.
        for path in [self.dir, *self.dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (self.dir / "nginx.conf").write_text(self._config())

    def _config(self) -> str:
        d = self.dir
        new_http2 = self.version >= (1, 25, 1)
        tls_listen = f"listen {HOST}:{self.tls_port} ssl{'' if new_http2 else ' http2'};"
        h2c_listen = f"listen {HOST}:{self.h2c_port}{'' if new_http2 else ' http2'};"
        http2_on = "http2 on;" if new_http2 else ""
        common = f"""
        root {d}/www;
        location = /nginx-status {{ stub_status; }}
        # new-connection scenarios: the server closes after every response
        location /close/ {{ alias {d}/www/; keepalive_timeout 0; }}"""
        return f"""
worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{ worker_connections 4096; multi_accept on; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    server {{
        listen {HOST}:{self.http_port};
        {common}
    }}
    server {{
        {tls_listen}
        {http2_on}
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        {common}
    }}
    # nginx's default TLS session settings (tickets on): a client may resume sessions
    server {{
        listen {HOST}:{self.tls_resume_port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        {common}
    }}
    # h2c (prior knowledge) for later HTTP/2 scenarios
    server {{
        {h2c_listen}
        {http2_on}
        {common}
    }}
}}
"""

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Nginx:
        self._write_files()
        cmd = [self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")]
        if self.version >= (1, 19, 5):
            cmd[1:1] = ["-e", str(self.dir / "logs" / "error.log")]
        test = subprocess.run([*cmd, "-t"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise SystemExit(f"nginx config test failed:\n{test.stderr}")
        cpu = self.cpu

        def pin() -> None:
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(cmd, preexec_fn=pin)
        deadline = time.monotonic() + 10
        for port in (self.http_port, self.tls_port, self.h2c_port, self.tls_resume_port):
            while True:
                if self.proc.poll() is not None:
                    log = (self.dir / "logs" / "error.log").read_text(errors="replace")
                    raise SystemExit(f"nginx exited with {self.proc.returncode}:\n{log}")
                try:
                    socket.create_connection((HOST, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"nginx did not listen on port {port}") from None
                    time.sleep(0.05)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown of master and worker
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def accepted_connections(self) -> int:
        """Total connections nginx accepted so far (from stub_status)."""
        url = f"http://{HOST}:{self.http_port}/nginx-status"
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
        # "Active connections: N \nserver accepts handled requests\n A H R \n..."
        return int(text.splitlines()[2].split()[0])

    def url(self, kind: str) -> str:
        if kind == "download":
            return f"http://{HOST}:{self.http_port}/16m"
        if kind == "tls-new":
            return f"https://{HOST}:{self.tls_port}/close/1k"
        if kind == "tls-resume":
            return f"https://{HOST}:{self.tls_resume_port}/close/1k"
        if kind == "h2-tls":
            return f"https://{HOST}:{self.tls_port}/1k"
        if kind == "h2c":
            return f"http://{HOST}:{self.h2c_port}/1k"
        return f"http://{HOST}:{self.http_port}/1k"
