"""The one-off request() and stream() functions, against a real local HTTP/1.1 server.

They pick the installed blocking backend; in a matrix cell without netbackend-sync the
network tests are skipped and the clear install error is checked instead.
"""

from __future__ import annotations

import http.server
import importlib.util
import threading
from collections.abc import Iterator

import pytest

import httptransport
from netbackend_base import BackendNotFoundError

HAS_SYNC_BACKEND = importlib.util.find_spec("netbackend_sync") is not None
needs_sync_backend = pytest.mark.skipif(
    not HAS_SYNC_BACKEND, reason="netbackend-sync is not installed in this matrix cell"
)


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """GET /hello answers a fixed body; POST /echo answers the request body and headers."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    return body
                body += chunk
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _answer(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        """Serve /hello; anything else is a 404."""
        if self.path == "/hello":
            self._answer(200, b"Hello, world!", {"Content-Type": "text/plain"})
        else:
            self._answer(404, b"")

    def do_POST(self) -> None:
        """Echo the body, and report the framing and Host headers received."""
        body = self._read_body()
        self._answer(
            200,
            body,
            {
                "X-Host": self.headers.get("Host", ""),
                "X-Framing": "chunked"
                if self.headers.get("Transfer-Encoding")
                else f"length={self.headers.get('Content-Length')}",
            },
        )


@pytest.fixture
def server_url() -> Iterator[str]:
    """A threaded HTTP/1.1 server on 127.0.0.1, yielding its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    server.daemon_threads = True
    # A short poll interval keeps shutdown() from costing half a second per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def header(response: httptransport.Response, name: bytes) -> bytes:
    """The value of the first header called ``name`` (case-insensitive)."""
    return next(v for k, v in response.headers if k.lower() == name.lower())


@needs_sync_backend
def test_request_get(server_url: str) -> None:
    """request() returns the status, headers and the already-read body."""
    response = httptransport.request("GET", server_url + "/hello")
    assert response.status == 200
    assert header(response, b"content-type") == b"text/plain"
    assert response.content == b"Hello, world!"
    assert response.extensions["http_version"] == b"HTTP/1.1"


@needs_sync_backend
def test_request_not_found(server_url: str) -> None:
    """Error statuses are returned, not raised."""
    assert httptransport.request(b"GET", server_url.encode() + b"/missing").status == 404


@needs_sync_backend
def test_request_post_bytes(server_url: str) -> None:
    """A bytes body goes out with Content-Length and the Host header is filled in."""
    response = httptransport.request("POST", server_url + "/echo", content=b"abc")
    assert response.content == b"abc"
    assert header(response, b"x-framing") == b"length=3"
    assert header(response, b"x-host") == server_url.removeprefix("http://").encode()


@needs_sync_backend
def test_request_post_iterable(server_url: str) -> None:
    """An iterable body goes out chunked."""
    response = httptransport.request(
        "POST", server_url + "/echo", headers={"X-Test": "1"}, content=iter([b"ab", b"cd"])
    )
    assert response.content == b"abcd"
    assert header(response, b"x-framing") == b"chunked"


@needs_sync_backend
def test_stream(server_url: str) -> None:
    """stream() yields an unread response whose body can be iterated."""
    with httptransport.stream("GET", server_url + "/hello") as response:
        assert response.status == 200
        with pytest.raises(RuntimeError):
            response.content  # noqa: B018
        assert b"".join(response.iter_stream()) == b"Hello, world!"


@needs_sync_backend
def test_request_connect_error() -> None:
    """A refused connection raises ConnectError."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(httptransport.ConnectError):
            httptransport.request("GET", f"http://127.0.0.1:{port}/")


def test_request_unsupported_protocol() -> None:
    """A URL without a usable scheme raises UnsupportedProtocol."""
    with pytest.raises(httptransport.UnsupportedProtocol):
        httptransport.request("GET", "ftp://127.0.0.1/")


@pytest.mark.skipif(HAS_SYNC_BACKEND, reason="netbackend-sync is installed in this matrix cell")
def test_request_without_a_backend_names_the_install() -> None:
    """With no blocking backend installed, request() says which package to install."""
    with pytest.raises(BackendNotFoundError, match="pip install netbackend-sync"):
        httptransport.request("GET", "http://127.0.0.1:9/")
