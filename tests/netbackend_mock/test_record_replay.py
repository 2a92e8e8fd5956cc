"""Record and replay: RecordingBackend/ReplayBackend and their async twins, and Cassette.

Recording tests talk to live loopback servers defined here (HTTP/1.1 plain and TLS, a
line-based echo) or hypercorn (HTTP/2), stop the server, and replay the cassette
offline through the same code: httptransport's pools for HTTP, raw streams for the
echo protocol. They skip when the matrix cell has no real backend (or no h2/hypercorn).

The cassettes checked in under ``cassettes/`` replay in every cell, ``backends=none``
included. ``NETBACKEND_RECORD_CASSETTES=1`` re-records them (in a cell with a backend).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import ssl
import sys
import threading
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import httptransport
from netbackend_base import (
    AsyncNetworkBackend,
    AsyncNetworkStream,
    BackendNotFoundError,
    ConnectError,
    NetworkBackend,
    NetworkStream,
    ReadTimeout,
    default_async_backend,
    default_backend,
)
from netbackend_mock import (
    AsyncMockBackend,
    AsyncRecordingBackend,
    AsyncReplayBackend,
    Cassette,
    CassetteFormatError,
    Event,
    MockBackend,
    RecordedConnection,
    RecordedError,
    RecordedResolve,
    RecordingBackend,
    ReplayBackend,
    ReplayMismatch,
    TLSInfo,
)

CASSETTES = Path(__file__).resolve().parent / "cassettes"
RECORD = os.environ.get("NETBACKEND_RECORD_CASSETTES") == "1"


# -- live loopback servers ------------------------------------------------------------


class LoopbackServer:
    """A threaded TCP server on 127.0.0.1: one ``handler(sock)`` thread per connection."""

    def __init__(
        self, handler: Callable[[socket.socket], None], ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._handler = handler
        self._ssl_context = ssl_context
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self, path: str = "/") -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self._ssl_context is not None:
                sock = self._ssl_context.wrap_socket(sock, server_side=True)
            self._handler(sock)
        except (OSError, ssl.SSLError):
            pass
        finally:
            sock.close()

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join(5)
        for thread in self._threads:
            thread.join(5)


def http_handler(sock: socket.socket) -> None:
    """HTTP/1.1 with keep-alive: ``/echo`` returns the body, anything else a greeting."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        target = lines[0].split(b" ")[1]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(buffer) < length:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        body, buffer = buffer[:length], buffer[length:]
        content = body if target == b"/echo" else b"Hello, world!"
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(content), content))


def line_echo_handler(sock: socket.socket) -> None:
    """A line protocol: ``HELLO`` gets ``WELCOME``, ``QUIT`` gets ``BYE`` and the close,
    any other line comes back upper-cased."""
    buffer = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line == b"HELLO":
                sock.sendall(b"WELCOME\n")
            elif line == b"QUIT":
                sock.sendall(b"BYE\n")
                return
            else:
                sock.sendall(line.upper() + b"\n")


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    """Starts loopback servers (``serve(handler, ssl_context=None)``); stops what is left."""
    started: list[LoopbackServer] = []

    def start(
        handler: Callable[[socket.socket], None], ssl_context: ssl.SSLContext | None = None
    ) -> LoopbackServer:
        server = LoopbackServer(handler, ssl_context)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def ca() -> typing.Any:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def client_context(ca: typing.Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def server_context(ca: typing.Any) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    return context


@pytest.fixture
def live_backend() -> NetworkBackend:
    """The installed blocking backend; the test skips when there is none."""
    try:
        return default_backend()
    except BackendNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def live_async_backend() -> Callable[[], AsyncNetworkBackend]:
    """Makes the installed backend for the running loop (call it inside the test)."""

    def make() -> AsyncNetworkBackend:
        try:
            return default_async_backend()
        except BackendNotFoundError as exc:
            pytest.skip(str(exc))

    return make


def _http2_servers() -> typing.Any:
    """tests/httptransport/http2_servers.py (hypercorn), loaded by path."""
    pytest.importorskip("h2")
    pytest.importorskip("hypercorn")
    name = "_httptransport_http2_servers"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parent.parent / "httptransport" / "http2_servers.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture
def h2_server(ca: typing.Any, tmp_path: Path) -> Iterator[Callable[[bool], typing.Any]]:
    """hypercorn over TLS (ALPN h2) or h2c: ``h2_server(tls)``."""
    module = _http2_servers()
    started: list[typing.Any] = []

    def start(tls: bool) -> typing.Any:
        server = module.HypercornServer(ca if tls else None, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        if not server._loop.is_closed():  # not stopped by the test already
            server.stop()


def reloaded(cassette: Cassette, tmp_path: Path) -> Cassette:
    """The cassette after a trip through a file, which must be text and equal."""
    path = tmp_path / "cassette.jsonl"
    cassette.save(path)
    loaded = Cassette.load(path)
    assert loaded == cassette
    for line in path.read_text(encoding="utf-8").splitlines():
        json.loads(line)
    return loaded


# -- HTTP/1.1 -------------------------------------------------------------------------

REQUESTS: list[tuple[str, str, bytes]] = [
    ("GET", "/", b""),
    ("POST", "/echo", b"hello, replay"),
    ("POST", "/echo", bytes(range(256)) * 64),  # binary, over several reads
]


def run_http(pool: httptransport.ConnectionPool, base: str) -> list[tuple[int, bytes]]:
    return [
        ((r := pool.request(method, base + path, content=body)).status, r.content)
        for method, path, body in REQUESTS
    ]


async def arun_http(pool: httptransport.AsyncConnectionPool, base: str) -> list[tuple[int, bytes]]:
    results = []
    for method, path, body in REQUESTS:
        response = await pool.request(method, base + path, content=body)
        results.append((response.status, response.content))
    return results


@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
def test_http11_records_and_replays_offline(
    tls: bool,
    serve: Callable[..., LoopbackServer],
    live_backend: NetworkBackend,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    client_context = request.getfixturevalue("client_context") if tls else None
    server_context = request.getfixturevalue("server_context") if tls else None
    server = serve(http_handler, server_context)
    base = server.url("")
    cassette = Cassette()
    recorder = RecordingBackend(live_backend, cassette)
    with httptransport.ConnectionPool(ssl_context=client_context, network_backend=recorder) as pool:
        recorded = run_http(pool, base)
    server.stop()

    assert [status for status, _ in recorded] == [200, 200, 200]
    assert len(cassette.connections) == 1  # one keep-alive connection
    ops = [event.op for event in cassette.connections[0].events]
    assert ops[0] == ("start_tls" if tls else "write")
    assert ops[-1] == "close"
    if tls:
        handshake = cassette.connections[0].events[0].tls
        assert handshake is not None
        assert handshake.server_hostname == "127.0.0.1"
        assert handshake.alpn == "http/1.1"
        assert handshake.version is not None
        assert handshake.version.startswith("TLS")

    replay = ReplayBackend(reloaded(cassette, tmp_path), strict=True)
    with httptransport.ConnectionPool(ssl_context=client_context, network_backend=replay) as pool:
        assert run_http(pool, base) == recorded
        if tls:
            stream = replay.streams[0]
            assert stream.connection == 1
    replay.assert_all_played()


@pytest.mark.anyio
@pytest.mark.parametrize("tls", [False, True], ids=["tcp", "tls"])
async def test_http11_records_and_replays_offline_async(
    tls: bool,
    serve: Callable[..., LoopbackServer],
    live_async_backend: Callable[[], AsyncNetworkBackend],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    client_context = request.getfixturevalue("client_context") if tls else None
    server_context = request.getfixturevalue("server_context") if tls else None
    server = serve(http_handler, server_context)
    base = server.url("")
    cassette = Cassette()
    recorder = AsyncRecordingBackend(live_async_backend(), cassette)
    async with httptransport.AsyncConnectionPool(
        ssl_context=client_context, network_backend=recorder
    ) as pool:
        recorded = await arun_http(pool, base)
    server.stop()

    replay = AsyncReplayBackend(reloaded(cassette, tmp_path), strict=True)
    async with httptransport.AsyncConnectionPool(
        ssl_context=client_context, network_backend=replay
    ) as pool:
        assert await arun_http(pool, base) == recorded
    replay.assert_all_played()


def test_replayed_tls_stream_answers_like_the_recorded_one(
    serve: Callable[..., LoopbackServer],
    live_backend: NetworkBackend,
    client_context: ssl.SSLContext,
    server_context: ssl.SSLContext,
) -> None:
    server = serve(http_handler, server_context)
    cassette = Cassette()
    stream = RecordingBackend(live_backend, cassette).connect_tcp("127.0.0.1", server.port)
    tls = stream.start_tls(client_context, server_hostname="localhost")
    live = tls.get_extra_info("ssl_object")
    expected = (
        live.selected_alpn_protocol(),
        live.version(),
        live.cipher(),
        live.getpeercert(),
        live.getpeercert(binary_form=True),
    )
    addrs = (tls.get_extra_info("client_addr"), tls.get_extra_info("server_addr"))
    tls.close()
    server.stop()

    replayed = ReplayBackend(Cassette.loads(cassette.dumps())).connect_tcp("127.0.0.1", server.port)
    assert replayed.get_extra_info("ssl_object") is None  # plain until start_tls
    replayed_tls = replayed.start_tls(client_context, server_hostname="localhost")
    obj = replayed_tls.get_extra_info("ssl_object")
    assert (
        obj.selected_alpn_protocol(),
        obj.version(),
        obj.cipher(),
        obj.getpeercert(),
        obj.getpeercert(binary_form=True),
    ) == expected
    assert obj.server_hostname == "localhost"
    assert (
        replayed_tls.get_extra_info("client_addr"),
        replayed_tls.get_extra_info("server_addr"),
    ) == addrs
    assert replayed_tls.get_extra_info("socket") is None


# -- HTTP/2 ---------------------------------------------------------------------------

H2_REQUESTS: list[tuple[str, str, bytes]] = [
    ("GET", "/", b""),
    ("POST", "/echo", b"hello" * 10000),  # past the initial flow-control window
    ("GET", "/bytes/200000", b""),
]


@pytest.mark.parametrize("tls", [True, False], ids=["h2", "h2c"])
def test_http2_records_and_replays_offline(
    tls: bool,
    h2_server: Callable[[bool], typing.Any],
    live_backend: NetworkBackend,
    client_context: ssl.SSLContext,
    tmp_path: Path,
) -> None:
    server = h2_server(tls)
    cassette = Cassette()
    options: dict[str, typing.Any] = {"ssl_context": client_context, "http2": True, "http1": tls}

    def run(pool: httptransport.ConnectionPool) -> list[tuple[int, bytes, bytes]]:
        results = []
        for method, path, body in H2_REQUESTS:
            response = pool.request(method, server.url(path), content=body)
            results.append((response.status, response.extensions["http_version"], response.content))
        return results

    with httptransport.ConnectionPool(
        network_backend=RecordingBackend(live_backend, cassette), **options
    ) as pool:
        recorded = run(pool)
    server.stop()
    assert {version for _, version, _ in recorded} == {b"HTTP/2"}
    if tls:
        handshake = cassette.connections[0].events[0].tls
        assert handshake is not None
        assert handshake.alpn == "h2"

    replay = ReplayBackend(reloaded(cassette, tmp_path))
    with httptransport.ConnectionPool(network_backend=replay, **options) as pool:
        assert run(pool) == recorded
    replay.assert_all_played()


@pytest.mark.anyio
async def test_http2_records_and_replays_offline_async(
    h2_server: Callable[[bool], typing.Any],
    live_async_backend: Callable[[], AsyncNetworkBackend],
    client_context: ssl.SSLContext,
    tmp_path: Path,
) -> None:
    server = h2_server(True)
    cassette = Cassette()

    async def run(pool: httptransport.AsyncConnectionPool) -> list[tuple[int, bytes]]:
        results = []
        for method, path, body in H2_REQUESTS:
            response = await pool.request(method, server.url(path), content=body)
            assert response.extensions["http_version"] == b"HTTP/2"
            results.append((response.status, response.content))
        return results

    recorder = AsyncRecordingBackend(live_async_backend(), cassette)
    async with httptransport.AsyncConnectionPool(
        ssl_context=client_context, http2=True, network_backend=recorder
    ) as pool:
        recorded = await run(pool)
    server.stop()

    replay = AsyncReplayBackend(reloaded(cassette, tmp_path))
    async with httptransport.AsyncConnectionPool(
        ssl_context=client_context, http2=True, network_backend=replay
    ) as pool:
        assert await run(pool) == recorded
    replay.assert_all_played()


# -- a protocol that is not HTTP --------------------------------------------------------


def read_line(stream: NetworkStream, size: int = 65536) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        data = stream.read(size)
        if not data:
            break
        line += data
    return line


async def aread_line(stream: AsyncNetworkStream, size: int = 65536) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        data = await stream.read(size)
        if not data:
            break
        line += data
    return line


def chat(backend: NetworkBackend, port: int, size: int = 65536, split: bool = False) -> list[bytes]:
    """HELLO, two lines, QUIT and the EOF after it; ``split`` writes in 3-byte pieces."""
    stream = backend.connect_tcp("127.0.0.1", port, timeout=5.0)
    answers = []
    for line in (b"HELLO\n", b"first line\n", b"second\n", b"QUIT\n"):
        pieces = [line[i : i + 3] for i in range(0, len(line), 3)] if split else [line]
        for piece in pieces:
            stream.write(piece)
        answers.append(read_line(stream, size))
    answers.append(stream.read(size))  # EOF
    stream.close()
    return answers


async def achat(
    backend: AsyncNetworkBackend, port: int, size: int = 65536, split: bool = False
) -> list[bytes]:
    stream = await backend.connect_tcp("127.0.0.1", port, timeout=5.0)
    answers = []
    for line in (b"HELLO\n", b"first line\n", b"second\n", b"QUIT\n"):
        pieces = [line[i : i + 3] for i in range(0, len(line), 3)] if split else [line]
        for piece in pieces:
            await stream.write(piece)
        answers.append(await aread_line(stream, size))
    answers.append(await stream.read(size))
    await stream.aclose()
    return answers


EXPECTED_CHAT = [b"WELCOME\n", b"FIRST LINE\n", b"SECOND\n", b"BYE\n", b""]


def test_line_protocol_records_and_replays_with_other_chunking(
    serve: Callable[..., LoopbackServer], live_backend: NetworkBackend, tmp_path: Path
) -> None:
    server = serve(line_echo_handler)
    cassette = Cassette()
    assert chat(RecordingBackend(live_backend, cassette), server.port) == EXPECTED_CHAT
    server.stop()
    assert [event.op for event in cassette.connections[0].events][-2:] == ["eof", "close"]

    loaded = reloaded(cassette, tmp_path)
    # The same conversation, written in 3-byte pieces and read 1 byte at a time.
    replay = ReplayBackend(loaded, strict=True)
    assert chat(replay, server.port, size=1, split=True) == EXPECTED_CHAT
    replay.assert_all_played()


@pytest.mark.anyio
async def test_line_protocol_records_and_replays_async(
    serve: Callable[..., LoopbackServer],
    live_async_backend: Callable[[], AsyncNetworkBackend],
    tmp_path: Path,
) -> None:
    server = serve(line_echo_handler)
    cassette = Cassette()
    recorded = await achat(AsyncRecordingBackend(live_async_backend(), cassette), server.port)
    assert recorded == EXPECTED_CHAT
    server.stop()
    replay = AsyncReplayBackend(reloaded(cassette, tmp_path), strict=True)
    assert await achat(replay, server.port, size=2, split=True) == EXPECTED_CHAT
    replay.assert_all_played()


def test_recorded_connect_failure_replays(live_backend: NetworkBackend) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cassette = Cassette()
    with pytest.raises(ConnectError):
        RecordingBackend(live_backend, cassette).connect_tcp("127.0.0.1", port, timeout=5.0)
    error = cassette.connections[0].error
    assert error is not None
    assert error.type == "ConnectError"
    with pytest.raises(ConnectError, match=re.escape(error.message)):
        ReplayBackend(Cassette.loads(cassette.dumps())).connect_tcp("127.0.0.1", port)


# -- the checked-in cassettes (no real backend needed to replay) --------------------------


def _port_of(cassette: Cassette) -> int:
    port = cassette.connections[0].port
    assert port is not None
    return port


def test_checked_in_http11_cassette_replays() -> None:
    cassette = Cassette.load(CASSETTES / "http11.jsonl")
    base = f"http://127.0.0.1:{_port_of(cassette)}"
    replay = ReplayBackend(cassette, strict=True)
    with httptransport.ConnectionPool(network_backend=replay) as pool:
        results = run_http(pool, base)
    assert results[0] == (200, b"Hello, world!")
    assert results[1] == (200, b"hello, replay")
    assert results[2] == (200, bytes(range(256)) * 64)
    replay.assert_all_played()


@pytest.mark.anyio
async def test_checked_in_http11_cassette_replays_async() -> None:
    cassette = Cassette.load(CASSETTES / "http11.jsonl")
    base = f"http://127.0.0.1:{_port_of(cassette)}"
    replay = AsyncReplayBackend(cassette, strict=True)
    async with httptransport.AsyncConnectionPool(network_backend=replay) as pool:
        results = await arun_http(pool, base)
    assert [content for _, content in results][:2] == [b"Hello, world!", b"hello, replay"]
    replay.assert_all_played()


def test_checked_in_line_cassette_replays() -> None:
    cassette = Cassette.load(CASSETTES / "line_echo.jsonl")
    replay = ReplayBackend(cassette, strict=True)
    assert chat(replay, _port_of(cassette), size=4, split=True) == EXPECTED_CHAT
    replay.assert_all_played()


def test_checked_in_cassettes_are_readable_text() -> None:
    text = (CASSETTES / "http11.jsonl").read_text(encoding="utf-8")
    assert text.splitlines()[0] == '{"format": "netbackend-cassette", "version": 1}'
    # HTTP/1.1 stays readable in the file: text, not base64.
    assert '"text": "GET / HTTP/1.1\\r\\nHost: 127.0.0.1:' in text


@pytest.mark.skipif(not RECORD, reason="set NETBACKEND_RECORD_CASSETTES=1 to re-record")
def test_rerecord_checked_in_cassettes(
    serve: Callable[..., LoopbackServer], live_backend: NetworkBackend
) -> None:
    server = serve(http_handler)
    cassette = Cassette()
    recorder = RecordingBackend(live_backend, cassette)
    with httptransport.ConnectionPool(network_backend=recorder) as pool:
        run_http(pool, server.url(""))
    cassette.save(CASSETTES / "http11.jsonl")
    server = serve(line_echo_handler)
    cassette = Cassette()
    chat(RecordingBackend(live_backend, cassette), server.port)
    cassette.save(CASSETTES / "line_echo.jsonl")


# -- divergence -------------------------------------------------------------------------


def mock_cassette() -> Cassette:
    """One connection recorded over a MockBackend: request, TLS, request, response, EOF."""
    cassette = Cassette()
    inner = MockBackend([b"OK\n", b"pong pong pong\n"])
    stream = RecordingBackend(inner, cassette).connect_tcp("example.com", 1234)
    stream.write(b"STARTTLS\n")
    assert stream.read(100) == b"OK\n"
    tls = stream.start_tls(ssl.create_default_context(), server_hostname="example.com")
    tls.write(b"PING 0123456789abcdefghijklmnopqrstuvwxyz\n")
    assert tls.read(100) == b"pong pong pong\n"
    assert tls.read(100) == b""
    tls.close()
    return cassette


def test_mock_recording_shape() -> None:
    events = mock_cassette().connections[0].events
    assert [e.op for e in events] == ["write", "read", "start_tls", "write", "read", "eof", "close"]
    tls = events[2].tls
    assert tls is not None
    assert tls.server_hostname == "example.com"
    assert tls.alpn is None  # what the MockSSLObject said
    assert tls.version is None  # what it could not say


def test_diverging_write_names_connection_offset_and_bytes() -> None:
    stream = ReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    stream.write(b"STARTTLS\n")
    assert stream.read(100) == b"OK\n"
    tls = stream.start_tls(ssl.create_default_context(), server_hostname="example.com")
    tls.write(b"PING 0123456789")
    with pytest.raises(ReplayMismatch) as info:
        tls.write(b"ABCDEF")
    message = str(info.value)
    assert "connection 1 (connect_tcp('example.com', 1234)) after start_tls #1" in message
    assert "wrote other bytes than the recording, at byte 15" in message
    assert "expected: b'PING 0123456789abcdefghijklmnopqrstuvwxyz\\n'" in message
    assert "actual:   b'PING 0123456789ABCDEF'" in message
    assert isinstance(info.value, AssertionError)


def test_mismatch_excerpts_are_truncated() -> None:
    cassette = Cassette([RecordedConnection("tcp", "h", 1, events=[Event("write", b"x" * 1000)])])
    stream = ReplayBackend(cassette).connect_tcp("h", 1)
    stream.write(b"x" * 500)
    with pytest.raises(ReplayMismatch) as info:
        stream.write(b"y")
    message = str(info.value)
    assert "at byte 500" in message
    assert "expected: ...b'" + "x" * 32 + "x" * 64 + "'..." in message
    assert "actual:   ...b'" + "x" * 32 + "y'" in message
    assert len(message) < 400


def test_writing_past_the_recording_is_a_mismatch() -> None:
    stream = ReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    with pytest.raises(ReplayMismatch, match="wrote 6 bytes past the end of the 9 recorded"):
        stream.write(b"STARTTLS\nEXTRA!")


def test_more_connections_than_recorded() -> None:
    backend = ReplayBackend(mock_cassette())
    backend.connect_tcp("example.com", 1234)
    with pytest.raises(ReplayMismatch, match=r"connection 2: .* holds 1 connection, all replayed"):
        backend.connect_tcp("example.com", 1234)


@pytest.mark.parametrize(("host", "port"), [("example.org", 1234), ("example.com", 80)])
def test_connect_elsewhere_than_recorded(host: str, port: int) -> None:
    with pytest.raises(ReplayMismatch) as info:
        ReplayBackend(mock_cassette()).connect_tcp(host, port)
    assert f"connect_tcp({host!r}, {port})" in str(info.value)
    assert "those left are #1 connect_tcp('example.com', 1234)" in str(info.value)


def test_connect_unix_where_tcp_was_recorded() -> None:
    with pytest.raises(ReplayMismatch, match="connect_unix_socket"):
        ReplayBackend(mock_cassette()).connect_unix_socket("/tmp/sock")


def test_start_tls_for_another_host() -> None:
    stream = ReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    stream.write(b"STARTTLS\n")
    stream.read(100)
    with pytest.raises(ReplayMismatch, match=r"handshake was for server_hostname='example\.com'"):
        stream.start_tls(ssl.create_default_context(), server_hostname="evil.example")


def test_start_tls_too_early() -> None:
    stream = ReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    with pytest.raises(ReplayMismatch, match="start_tls after 0 of the 9 client bytes"):
        stream.start_tls(ssl.create_default_context(), server_hostname="example.com")


def test_start_tls_where_none_was_recorded() -> None:
    cassette = Cassette([RecordedConnection("tcp", "h", 1)])
    stream = ReplayBackend(cassette).connect_tcp("h", 1)
    with pytest.raises(ReplayMismatch, match="no \\(more\\) TLS handshakes"):
        stream.start_tls(ssl.create_default_context(), server_hostname="h")


def test_reading_past_the_recording() -> None:
    cassette = Cassette([RecordedConnection("tcp", "h", 1, events=[Event("read", b"hi")])])
    stream = ReplayBackend(cassette).connect_tcp("h", 1)
    assert stream.read(10) == b"hi"
    with pytest.raises(ReplayMismatch, match="read after all 2 recorded server bytes"):
        stream.read(10)


def test_read_waiting_for_bytes_never_written() -> None:
    cassette = mock_cassette()
    stream = ReplayBackend(cassette, wait_limit=0.05).connect_tcp("example.com", 1234)
    stream.write(b"START")
    with pytest.raises(ReplayMismatch) as info:
        stream.read(100)
    message = str(info.value)
    assert "waited 0.05 s for the client to write bytes 5..9" in message
    assert "Next expected client bytes: ...b'TLS\\n'" in message


def test_read_timeout_bounds_the_wait() -> None:
    stream = ReplayBackend(mock_cassette(), wait_limit=60).connect_tcp("example.com", 1234)
    with pytest.raises(ReplayMismatch, match=r"waited 0\.02 s"):
        stream.read(100, timeout=0.02)


@pytest.mark.anyio
async def test_async_read_waits_for_a_concurrent_write() -> None:
    import anyio

    stream = await AsyncReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    answers: list[bytes] = []

    async def reader() -> None:
        answers.append(await stream.read(100))  # waits for STARTTLS\n

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.sleep(0.01)
        assert answers == []
        await stream.write(b"STARTTLS\n")
    assert answers == [b"OK\n"]


def test_sync_read_waits_for_a_write_from_another_thread() -> None:
    stream = ReplayBackend(mock_cassette()).connect_tcp("example.com", 1234)
    timer = threading.Timer(0.02, stream.write, args=(b"STARTTLS\n",))
    timer.start()
    assert stream.read(100) == b"OK\n"
    timer.join()


def test_unplayed_traffic_lenient_and_strict() -> None:
    lenient = ReplayBackend(mock_cassette())
    stream = lenient.connect_tcp("example.com", 1234)
    stream.write(b"STARTTLS\n")
    stream.close()  # lenient: no error
    assert lenient.unplayed() == [
        "recorded connection 1 (connect_tcp('example.com', 1234)): 3 server bytes not read, "
        "start_tls #1 not replayed, 42 client bytes not written, 15 server bytes not read"
    ]
    with pytest.raises(ReplayMismatch, match="not all of the cassette was replayed"):
        lenient.assert_all_played()

    strict = ReplayBackend(mock_cassette(), strict=True)
    stream = strict.connect_tcp("example.com", 1234)
    stream.write(b"STARTTLS\n")
    with pytest.raises(ReplayMismatch, match="closed with 3 server bytes not read"):
        stream.close()
    stream.close()  # once only


def test_never_opened_connections_are_unplayed() -> None:
    backend = ReplayBackend(mock_cassette())
    assert backend.unplayed() == [
        "recorded connection 1 (connect_tcp('example.com', 1234)) never opened"
    ]


def test_replay_mismatch_passes_through_httptransport() -> None:
    """A pool does not turn the mismatch into a network error, nor retry it."""
    cassette = Cassette.load(CASSETTES / "http11.jsonl")
    base = f"http://127.0.0.1:{_port_of(cassette)}"
    with httptransport.ConnectionPool(network_backend=ReplayBackend(cassette), retries=3) as pool:
        with pytest.raises(ReplayMismatch, match="wrote other bytes"):
            pool.request("GET", base + "/other")
        with pytest.raises(ReplayMismatch, match=r"connection 2: connect_tcp\('127.0.0.1', 1\)"):
            pool.request("GET", "http://127.0.0.1:1/")


def test_recorded_read_errors_and_timeouts_replay() -> None:
    events = [Event("write", b"x"), Event("read", error=RecordedError("ReadTimeout", "slow"))]
    cassette = Cassette.loads(Cassette([RecordedConnection("tcp", "h", 1, events=events)]).dumps())
    stream = ReplayBackend(cassette).connect_tcp("h", 1)
    stream.write(b"x")
    with pytest.raises(ReadTimeout, match="slow"):
        stream.read(10)


def test_resolve_is_recorded_and_replayed() -> None:
    cassette = Cassette()
    addresses = RecordingBackend(MockBackend([]), cassette).resolve("127.0.0.1")
    assert cassette.resolves == [RecordedResolve("127.0.0.1", 0, addresses)]
    replay = ReplayBackend(Cassette.loads(cassette.dumps()))
    assert replay.resolve("127.0.0.1") == addresses
    with pytest.raises(ReplayMismatch, match=r"resolve\('example\.net', family=0\): not in"):
        replay.resolve("example.net")


@pytest.mark.anyio
async def test_async_mock_recording_matches_sync() -> None:
    cassette = Cassette()
    backend = AsyncRecordingBackend(AsyncMockBackend([b"OK\n"]), cassette)
    stream = await backend.connect_unix_socket("/run/app.sock")
    await stream.write(b"STARTTLS")
    await stream.write(b"\n")  # consecutive writes are stored as one
    assert await stream.read(100) == b"OK\n"
    await stream.aclose()
    (connection,) = cassette.connections
    assert connection.kind == "unix"
    assert connection.server_addr == "/run/app.sock"
    assert [(e.op, e.data) for e in connection.events] == [
        ("write", b"STARTTLS\n"),
        ("read", b"OK\n"),
        ("close", b""),
    ]
    replay = AsyncReplayBackend(Cassette.loads(cassette.dumps()))
    replayed = await replay.connect_unix_socket("/run/app.sock")
    await replayed.write(b"STARTTLS\n")
    assert await replayed.read(1) == b"O"
    assert await replayed.read(100) == b"K\n"
    with pytest.raises(ReplayMismatch, match="read after all 3 recorded server bytes"):
        await replayed.read(100)  # the recording never read an EOF
    await replayed.aclose()
    replay.assert_all_played()


# -- the cassette ---------------------------------------------------------------------


def full_cassette() -> Cassette:
    tls = TLSInfo(
        "example.com",
        alpn="h2",
        version="TLSv1.3",
        cipher=("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128),
        peercert={"subject": ((("commonName", "example.com"),),), "version": 3},
        peercert_der=b"\x30\x82\x01",
    )
    return Cassette(
        connections=[
            RecordedConnection(
                "tcp",
                host="example.com",
                port=443,
                local_address="127.0.0.1",
                socket_options=((1, 2, 3), (1, 2, b"\x00\x01"), (1, 2, None, 4)),
                client_addr=("127.0.0.1", 50000),
                server_addr=("93.184.216.34", 443),
                events=[
                    Event("start_tls", tls=tls),
                    Event("write", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04"),
                    Event("is_readable", readable=False),
                    Event("read", "héllo wörld\r\n\tok".encode()),
                    Event("read", b"\xff\xfe"),
                    Event("write", error=RecordedError("WriteError", "reset")),
                    Event("eof"),
                    Event("close"),
                ],
            ),
            RecordedConnection(
                "tcp", host="example.com", port=80, error=RecordedError("ConnectError", "refused")
            ),
            RecordedConnection(
                "unix",
                path="/tmp/s",
                server_addr="/tmp/s",
                client_addr="",
                events=[
                    Event("start_tls", tls=TLSInfo(None, error=RecordedError("ConnectError", "x")))
                ],
            ),
        ],
        resolves=[RecordedResolve("example.com", 2, ["93.184.216.34"])],
    )


def test_cassette_round_trip(tmp_path: Path) -> None:
    cassette = full_cassette()
    text = cassette.dumps()
    assert Cassette.loads(text) == cassette
    loaded = reloaded(cassette, tmp_path)
    assert loaded.dumps() == text  # stable: saving again changes nothing
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0] == {"format": "netbackend-cassette", "version": 1}
    ops = [(line.get("connection"), line["op"]) for line in lines[1:]]
    assert ops[:3] == [(1, "connect_tcp"), (1, "start_tls"), (1, "write")]
    assert ops[-1] == (None, "resolve")
    read_text, read_binary = lines[5], lines[6]
    assert read_text["text"] == "héllo wörld\r\n\tok"
    assert read_binary["base64"] == "//4="
    assert "héllo" in (tmp_path / "cassette.jsonl").read_text(encoding="utf-8")


def test_cassette_format_errors() -> None:
    with pytest.raises(CassetteFormatError, match="empty"):
        Cassette.loads("")
    with pytest.raises(CassetteFormatError, match="not a netbackend-cassette file"):
        Cassette.loads('{"format": "other", "version": 1}\n')
    with pytest.raises(CassetteFormatError, match="version 2; this netbackend-mock reads"):
        Cassette.loads('{"format": "netbackend-cassette", "version": 2}\n')
    header = '{"format": "netbackend-cassette", "version": 1}\n'
    with pytest.raises(CassetteFormatError, match="line 2: not JSON"):
        Cassette.loads(header + "{oops\n")
    with pytest.raises(CassetteFormatError, match=r"line 2: .*not opened before"):
        Cassette.loads(header + '{"connection": 1, "op": "write", "text": "x"}\n')
    with pytest.raises(CassetteFormatError, match="unknown op"):
        Cassette.loads(
            header
            + '{"connection": 1, "op": "connect_unix_socket", "path": "/s"}\n'
            + '{"connection": 1, "op": "teleport"}\n'
        )


def test_replay_of_recorded_failures_in_full_cassette() -> None:
    backend = ReplayBackend(full_cassette())
    with pytest.raises(ConnectError, match="refused"):
        backend.connect_tcp("example.com", 80)
    stream = backend.connect_unix_socket("/tmp/s")
    with pytest.raises(ConnectError, match="x"):
        stream.start_tls(ssl.create_default_context(), server_hostname=None)
    assert backend.resolve("example.com", 2) == ["93.184.216.34"]
