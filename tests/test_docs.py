"""Every Python example in the repository's Markdown docs runs, against loopback only.

The examples talk to public hosts (example.org, www.example.com) as real user code
would. Here those names resolve to an HTTPS server on 127.0.0.1 whose certificate a
throw-away CA (trustme) issued for them, and TLS contexts trust that CA, so each
example runs end to end without any traffic leaving the machine. An example whose
package is not installed in the current matrix cell is skipped.
"""

from __future__ import annotations

import http.server
import re
import socket
import ssl
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parent.parent
DOC_HOSTS = ("example.org", "www.example.com", "example.com")
DOCS = sorted(
    path
    for pattern in ("README.md", "packages/*/README.md", "docs/**/*.md", "tests/*/README.md")
    for path in ROOT.glob(pattern)
)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for index, match in enumerate(BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            found.append((f"{doc.relative_to(ROOT)}#{index + 1}", match.group(1)))
    return found


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"<html>example</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: typing.Any) -> None:
        pass


@pytest.fixture
def loopback_doc_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Serve HTTPS for the docs' host names on 127.0.0.1 and record each lookup of them."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*DOC_HOSTS).configure_cert(server_context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()

    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_create_default_context = ssl.create_default_context

    def getaddrinfo(host: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if host in DOC_HOSTS:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, *args, **kwargs)

    def create_default_context(*args: typing.Any, **kwargs: typing.Any) -> ssl.SSLContext:
        context = real_create_default_context()
        ca.configure_trust(context)
        return context

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    try:
        yield lookups
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("name", "source"), _examples(), ids=[n for n, _ in _examples()])
def test_doc_example_runs(
    name: str, source: str, loopback_doc_hosts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The example runs to completion; one that used the network got the loopback server's 200."""
    try:
        exec(compile(source, name, "exec"), {"__name__": "__doc_example__"})
    except ImportError as exc:  # includes BackendNotFoundError: package not in this cell
        pytest.skip(f"{name} needs something this matrix cell does not install: {exc}")
    if loopback_doc_hosts:
        # An example that went to the network printed what the server sent back: at
        # least the status line.
        assert "200" in capsys.readouterr().out
