"""Real proxy servers for the proxy tests: pproxy (from PyPI) in a subprocess.

pproxy speaks HTTP (forwarding and CONNECT), SOCKS4 and SOCKS5, with or without
authentication, and HTTP over TLS; it is pure Python, so it runs wherever the tests
run (it is a test dependency). The test modules load this file by path (see
``load()`` there), because with ``--import-mode=importlib`` the tests directory is not
importable and a conftest here would only serve tests in this folder.

Each server listens on a free port of 127.0.0.1. ``--auth 0`` turns off pproxy's
habit of remembering an authenticated client address for a month, so every
connection must authenticate.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

__all__ = ("ProxyProcess", "running_proxy", "silent_listener")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProxyProcess:
    """One pproxy process listening on ``127.0.0.1:port``.

    Args:
        protocols: pproxy's protocol list, such as ``"http+socks4+socks5"``.
        auth: ``"user:password"`` the server demands, or ``None``.
        certfile: A PEM file with key and certificate: listen with TLS.
    """

    def __init__(self, protocols: str, auth: str | None = None, certfile: str | None = None):
        self.port = _free_port()
        uri = f"{protocols}://127.0.0.1:{self.port}"
        if auth is not None:
            uri += f"#{auth}"
        # pproxy switches to uvloop whenever it can import it, and fails on current
        # uvloop releases ("no current event loop"); the test environments install uvloop
        # for the anyio backend's own tests, so hide it from pproxy's process.
        launcher = "import runpy, sys; sys.modules['uvloop'] = None; " + (
            "runpy.run_module('pproxy', run_name='__main__')"
        )
        args = [sys.executable, "-c", launcher, "-l", uri, "--auth", "0"]
        if certfile is not None:
            args += ["--ssl", certfile]
        # Closed in stop(): the file outlives this method.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(args, stdout=self._log, stderr=self._log)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"pproxy exited early: {self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                # Waiting on the process doubles as the pause between polls, and
                # notices at once if it dies.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(0.05)
        raise RuntimeError(f"pproxy did not listen within 15 s: {self.output()}")

    def output(self) -> str:
        """What the process printed so far."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover - stuck server
                self._process.kill()
                self._process.wait()
        self._log.close()


@contextlib.contextmanager
def running_proxy(
    protocols: str, auth: str | None = None, certfile: str | None = None
) -> Iterator[ProxyProcess]:
    """Run a :class:`ProxyProcess` for the duration of the block."""
    proxy = ProxyProcess(protocols, auth, certfile)
    try:
        yield proxy
    finally:
        proxy.stop()


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (in the backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])
