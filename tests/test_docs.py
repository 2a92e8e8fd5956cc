"""Every Python example in the repository's Markdown docs runs, against loopback only.

The examples talk to public hosts (example.org, www.example.com) as real user code
would. Here those names resolve to an HTTPS server on 127.0.0.1 whose certificate a
throw-away CA (trustme) issued for them, and TLS contexts trust that CA (through
``ssl.create_default_context()`` and ``SSL_CERT_FILE``), so each
example runs end to end without any traffic leaving the machine. An example whose
package is not installed in the current matrix cell is skipped.

What the loopback server offers the examples:

* HTTP/1.1, and HTTP/2 when the client offers ``h2`` through ALPN;
* ``GET`` of any path: a small HTML body; ``/trailers``: a chunked body followed by a
  ``Server-Timing`` trailer; ``/slow``: the same body after half a second;
* ``POST`` / ``PUT`` of any path: the request body echoed back;
* ``GET`` with ``Upgrade: websocket`` (HTTP/1.1): ``101 Switching Protocols``, then each
  WebSocket message echoed back, until the client closes.

``proxy.example.org`` (any port) resolves to a proxy on 127.0.0.1 that speaks HTTP
``CONNECT`` and SOCKS5 (no authentication), and reaches only the names above.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import re
import select
import socket
import socketserver
import ssl
import threading
import time
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parent.parent
DOC_HOSTS = ("example.org", "www.example.com", "example.com")
PROXY_HOST = "proxy.example.org"
DOCS = sorted(
    path
    for pattern in ("README.md", "packages/*/README.md", "docs/**/*.md", "tests/*/README.md")
    for path in ROOT.glob(pattern)
)
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGE = b"<html>example</html>"
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def _examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for index, match in enumerate(BLOCK.finditer(doc.read_text(encoding="utf-8"))):
            found.append((f"{doc.relative_to(ROOT)}#{index + 1}", match.group(1)))
    return found


def _serve_h2(sock: ssl.SSLSocket) -> None:
    """Answer HTTP/2 requests on ``sock`` as the HTTP/1.1 handler does, until EOF."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests: dict[int, tuple[dict[bytes, bytes], bytearray]] = {}

    def respond(stream_id: int) -> None:
        head, body = requests.pop(stream_id)
        path = head.get(b":path", b"/")
        content = bytes(body) if head.get(b":method") in (b"POST", b"PUT") else PAGE
        if path == b"/slow":
            time.sleep(0.5)
        conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(content)))])
        trailers = path == b"/trailers"
        conn.send_data(stream_id, content, end_stream=not trailers)
        if trailers:
            conn.send_headers(stream_id, [("server-timing", "app;dur=1")], end_stream=True)

    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            return
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                requests[event.stream_id] = (dict(event.headers), bytearray())
                if event.stream_ended is not None:
                    respond(event.stream_id)
            elif isinstance(event, h2.events.DataReceived):
                requests[event.stream_id][1].extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id in requests:
                respond(event.stream_id)
            elif isinstance(event, h2.events.ConnectionTerminated):
                return
        try:
            sock.sendall(conn.data_to_send())
        except OSError:
            return


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket) and connection.selected_alpn_protocol() == "h2":
            _serve_h2(connection)
        else:
            super().handle()

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket_echo()
            return
        if self.path == "/slow":
            time.sleep(0.5)
        if self.path == "/trailers":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "Server-Timing")
            self.end_headers()
            self.wfile.write(
                b"%x\r\n%s\r\n0\r\nServer-Timing: app;dur=1\r\n\r\n" % (len(PAGE), PAGE)
            )
            return
        self._send(PAGE)

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
        else:
            body = bytearray(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self._send(bytes(body))

    do_PUT = do_POST

    def _websocket_echo(self) -> None:
        """Accept the WebSocket handshake, then send each frame's payload back in an
        unmasked frame of the same kind, until the client closes or sends Close."""
        key = self.headers.get("Sec-WebSocket-Key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.close_connection = True
        while len(head := self.rfile.read(2)) == 2:
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            if size >= 126:
                size = int.from_bytes(self.rfile.read(2 if size == 126 else 8), "big")
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(size)))
            length = bytes([size]) if size < 126 else b"\x7e" + size.to_bytes(2, "big")
            self.wfile.write(bytes([0x80 | opcode]) + length + payload)
            if opcode == 0x8:  # Close, answered with Close
                return

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: typing.Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: typing.Any, client_address: typing.Any) -> None:
        pass  # a client that went away (a timeout example, say) is not the example's failure


def _pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], 5.0)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (other if sock is one else one).sendall(data)


class _ProxyHandler(socketserver.BaseRequestHandler):
    """HTTP CONNECT or SOCKS5 (no authentication) to the docs' hosts only."""

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            first = client.recv(1, socket.MSG_PEEK)
            if first == b"\x05":
                host, port = self._socks5(client)
            else:
                host, port = self._connect(client)
            if host not in DOC_HOSTS:
                return
            with socket.create_connection((host, port), timeout=5) as upstream:
                client.sendall(self.reply)
                _pipe(client, upstream)
        except OSError:
            return

    def _connect(self, client: socket.socket) -> tuple[str, int]:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(65536)
            if not data:
                raise ConnectionError("proxy client went away")
            head += data
        target = head.split(b" ", 2)[1].decode()
        host, _, port = target.rpartition(":")
        self.reply = b"HTTP/1.1 200 Connection established\r\n\r\n"
        return host, int(port)

    def _socks5(self, client: socket.socket) -> tuple[str, int]:
        def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = client.recv(n - len(data))
                if not chunk:
                    raise ConnectionError("SOCKS client went away")
                data += chunk
            return data

        _, methods = exactly(2)
        exactly(methods)
        client.sendall(b"\x05\x00")
        _, _, _, kind = exactly(4)
        if kind == 3:
            host = exactly(exactly(1)[0]).decode()
        elif kind == 1:
            host = socket.inet_ntoa(exactly(4))
        else:
            host = socket.inet_ntop(socket.AF_INET6, exactly(16))
        port = int.from_bytes(exactly(2), "big")
        self.reply = b"\x05\x00\x00\x01\x7f\x00\x00\x01" + port.to_bytes(2, "big")
        return host, port


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def loopback_doc_hosts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """Serve HTTPS for the docs' host names on 127.0.0.1 and record each lookup of them."""
    ca = trustme.CA()
    ca_bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*DOC_HOSTS).configure_cert(server_context)
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    proxy = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    proxy_port = proxy.server_address[1]
    threads = [
        threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True),
        threading.Thread(target=proxy.serve_forever, args=(0.01,), daemon=True),
    ]
    for thread in threads:
        thread.start()

    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_create_default_context = ssl.create_default_context

    def getaddrinfo(host: typing.Any, *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if host in DOC_HOSTS:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        if host == PROXY_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", proxy_port))]
        return real_getaddrinfo(host, *args, **kwargs)

    def create_default_context(*args: typing.Any, **kwargs: typing.Any) -> ssl.SSLContext:
        context = real_create_default_context()
        ca.configure_trust(context)
        return context

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    # For contexts built without create_default_context() from the bundle the environment
    # names (httpx before 0.28 builds its own).
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
    try:
        yield lookups
    finally:
        for each in (server, proxy):
            each.shutdown()
            each.server_close()
        for thread in threads:
            thread.join()


def _only_import_errors(exc: BaseException) -> list[ImportError] | None:
    """The ImportErrors ``exc`` is made of (it alone, or every leaf of an exception group,
    as a trio nursery raises), or None if anything else is among them."""
    if isinstance(exc, ImportError):
        return [exc]
    inner = getattr(exc, "exceptions", None)
    if not isinstance(inner, tuple) or not inner:
        return None
    found: list[ImportError] = []
    for each in inner:
        leaves = _only_import_errors(each)
        if leaves is None:
            return None
        found.extend(leaves)
    return found


@pytest.mark.parametrize(("name", "source"), _examples(), ids=[n for n, _ in _examples()])
def test_doc_example_runs(
    name: str, source: str, loopback_doc_hosts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The example runs to completion; one that used the network got the loopback server's 200."""
    try:
        exec(compile(source, name, "exec"), {"__name__": "__doc_example__"})
    except Exception as exc:
        # ImportError includes BackendNotFoundError: a package not in this matrix cell.
        missing = _only_import_errors(exc)
        if not missing:
            raise
        pytest.skip(f"{name} needs something this matrix cell does not install: {missing[0]}")
    if loopback_doc_hosts:
        # An example that went to the network printed what the server sent back: at
        # least the status (101 for the one that switches protocols).
        out = capsys.readouterr().out
        assert "200" in out or "101" in out
