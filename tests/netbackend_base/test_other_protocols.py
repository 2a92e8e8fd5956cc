"""Protocols other than HTTP on netbackend-base: docs/other-protocols.md's clients, tested.

The page shows a WebSocket client (wsproto over the ``network_stream`` of an Upgrade
response) and a RESP (Redis) client (``connect_tcp`` + ``start_tls``), each async and
as a blocking twin. These tests take those client functions from the page itself (its
imports, functions and classes, not its run lines), so the page cannot drift from what is
tested, and run them against loopback servers of their own on every backend variant:

* ``sync``: ``netbackend_sync.SyncBackend`` with the blocking clients;
* ``anyio-asyncio`` / ``anyio-trio``: ``netbackend_anyio.AnyIOBackend`` on each loop;
* ``trio``: ``netbackend_trio.TrioBackend``.

A variant whose package is not installed is skipped, unless ``NETBACKEND_TEST_SET`` (set
by the hatch matrix) promises it, as in ``tests/conformance``.

The servers are plain threads over blocking sockets, bound to 127.0.0.1. They are harder
on the clients than the page's own: the WebSocket server sends a Ping in the same write
as its ``101`` (so it reaches the client as bytes read ahead of the handshake) and
echoes each message in several frames and writes; the RESP server can send its replies
one byte at a time.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import functools
import importlib
import os
import re
import socket
import socketserver
import ssl
import threading
import time
import typing
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
)

import httptransport
import netbackend_base

DOC = Path(__file__).resolve().parents[2] / "docs" / "other-protocols.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

# variant -> (module, class, event loop; None for the blocking clients)
VARIANTS: dict[str, tuple[str, str, str | None]] = {
    "sync": ("netbackend_sync", "SyncBackend", None),
    "anyio-asyncio": ("netbackend_anyio", "AnyIOBackend", "asyncio"),
    "anyio-trio": ("netbackend_anyio", "AnyIOBackend", "trio"),
    "trio": ("netbackend_trio", "TrioBackend", "trio"),
}
_PROMISED = {
    "all": set(VARIANTS),
    "sync": {"sync"},
    "anyio": {"anyio-asyncio", "anyio-trio"},
    "trio": {"trio"},
}


# --------------------------------------------------------------------------- the page


@functools.cache
def doc_namespace() -> dict[str, typing.Any]:
    """The imports, functions and classes of the page's Python blocks, run in one namespace.

    Everything else (starting the example servers, the ``print`` lines) is left out.
    """
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    namespace: dict[str, typing.Any] = {"__name__": "other_protocols_page"}
    for source in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        tree = ast.parse(source)
        tree.body = [node for node in tree.body if isinstance(node, kept)]
        exec(compile(tree, str(DOC), "exec"), namespace)
    return namespace


def doc(name: str) -> Callable[..., typing.Any]:
    found = doc_namespace().get(name)
    assert callable(found), f"docs/other-protocols.md defines no {name}"
    return typing.cast("Callable[..., typing.Any]", found)


def test_the_page_has_both_clients_and_their_twins() -> None:
    for name in (
        "websocket_echo",
        "websocket_echo_async",
        "redis_commands",
        "redis_commands_async",
        "parse_reply",
        "encode_command",
    ):
        doc(name)


# --------------------------------------------------------------------------- variants


@dataclasses.dataclass(frozen=True)
class Variant:
    """A backend class and how the clients run on it."""

    name: str
    backend_class: type[typing.Any]
    loop: str | None  # None: the blocking client, called directly

    def run(
        self,
        blocking: Callable[..., typing.Any],
        async_twin: Callable[..., typing.Any],
        *args: typing.Any,
    ) -> typing.Any:
        """Call the client fitting this variant with a fresh backend; return its result."""
        call = functools.partial(async_twin, *args, network_backend=self.backend_class())
        if self.loop is None:
            return blocking(*args, network_backend=self.backend_class())
        if self.loop == "asyncio":
            return asyncio.run(call())
        import trio

        return trio.run(call)


def _import(variant: str, module: str) -> typing.Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if variant in _PROMISED.get(os.environ.get("NETBACKEND_TEST_SET", ""), set()):
            pytest.fail(f"NETBACKEND_TEST_SET promises the {variant} variant, but: {exc}")
        pytest.skip(f"{variant}: {module} is not installed")


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> Variant:
    name = str(request.param)
    module_name, class_name, loop = VARIANTS[name]
    module = _import(name, module_name)
    if loop == "trio":
        _import(name, "trio")
    return Variant(name, getattr(module, class_name), loop)


# --------------------------------------------------------------------------- servers


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    log: list[str]


@dataclasses.dataclass
class Running:
    server: _Server
    port: int

    @property
    def log(self) -> list[str]:
        return self.server.log


def _serve(handler: type[socketserver.BaseRequestHandler], **attrs: object) -> Iterator[Running]:
    server = _Server(("127.0.0.1", 0), handler)
    server.log = []
    for key, value in attrs.items():
        setattr(server, key, value)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield Running(server, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class WebSocketHandler(socketserver.BaseRequestHandler):
    """``/echo`` echoes; ``/tricky`` pings first and echoes in pieces; others reject."""

    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        ws = WSConnection(ConnectionType.SERVER)
        path = ""
        while ws.state is not ConnectionState.CLOSED:
            data = sock.recv(65536)
            if not data:
                self.server.log.append("eof")
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Request):
                    path = event.target
                    if path not in ("/echo", "/tricky"):
                        sock.sendall(ws.send(RejectConnection(status_code=403)))
                        return
                    out = ws.send(AcceptConnection())
                    if path == "/tricky":  # in the same write as the 101
                        out += ws.send(Ping(payload=b"are you there"))
                    sock.sendall(out)
                elif isinstance(event, Pong):
                    self.server.log.append(f"pong {event.payload.decode()}")
                elif isinstance(event, Message):
                    self._echo(sock, ws, event, pieces=3 if path == "/tricky" else 1)
                elif isinstance(event, CloseConnection):
                    self.server.log.append(f"close {event.code}")
                    sock.sendall(ws.send(event.response()))

    @staticmethod
    def _echo(
        sock: socket.socket, ws: WSConnection, event: Message[typing.Any], pieces: int
    ) -> None:
        data = event.data
        step = max(1, -(-len(data) // pieces))
        chunks = [data[i : i + step] for i in range(0, len(data), step)] or [data[:0]]
        for index, chunk in enumerate(chunks):
            last = event.message_finished and index == len(chunks) - 1
            sock.sendall(ws.send(Message(data=chunk, message_finished=last)))
            time.sleep(0.001)  # separate reads, most of the time


@pytest.fixture
def ws_server() -> Iterator[Running]:
    yield from _serve(WebSocketHandler)


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


class RespHandler(socketserver.BaseRequestHandler):
    """PING, ECHO, SET, GET over TLS; ``-ERR`` for anything else."""

    server: _Server

    def handle(self) -> None:
        context: ssl.SSLContext = self.server.ssl_context  # type: ignore[attr-defined]
        store: dict[bytes, bytes] = self.server.store  # type: ignore[attr-defined]
        dribble: bool = self.server.dribble  # type: ignore[attr-defined]
        self.request.settimeout(10)
        try:  # the handshake runs here, in the connection's thread
            sock = context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.server.log.append(f"handshake failed: {type(exc).__name__}")
            return
        with sock, sock.makefile("rb") as rfile:
            while line := rfile.readline():
                assert line.startswith(b"*"), line
                args = []
                for _ in range(int(line[1:])):
                    size = int(rfile.readline()[1:])
                    args.append(rfile.read(size + 2)[:-2])
                self.server.log.append(b" ".join(args[:2]).decode())
                reply = self._reply(store, args)
                if dribble:
                    for index in range(len(reply)):
                        sock.sendall(reply[index : index + 1])
                else:
                    sock.sendall(reply)

    @staticmethod
    def _reply(store: dict[bytes, bytes], args: list[bytes]) -> bytes:
        name = args[0].upper()
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"ECHO":
            return _bulk(args[1])
        if name == b"SET":
            store[args[1]] = args[2]
            return b"+OK\r\n"
        if name == b"GET":
            return _bulk(store[args[1]]) if args[1] in store else b"$-1\r\n"
        return b"-ERR unknown command '%s'\r\n" % args[0]


@dataclasses.dataclass
class Resp:
    running: Running
    client_context: ssl.SSLContext

    @property
    def port(self) -> int:
        return self.running.port


def _resp(dribble: bool) -> Iterator[Resp]:
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    for running in _serve(RespHandler, ssl_context=server_context, store={}, dribble=dribble):
        yield Resp(running, client_context)


@pytest.fixture
def resp_server() -> Iterator[Resp]:
    yield from _resp(dribble=False)


@pytest.fixture
def dribbling_resp_server() -> Iterator[Resp]:
    yield from _resp(dribble=True)


# --------------------------------------------------------------------------- WebSocket


def _ws(variant: Variant, url: str, messages: list[str | bytes]) -> list[str | bytes | None]:
    return typing.cast(
        "list[str | bytes | None]",
        variant.run(doc("websocket_echo"), doc("websocket_echo_async"), url, messages),
    )


def test_websocket_echo(variant: Variant, ws_server: Running) -> None:
    """Text and binary messages, empty and large ones, come back as sent; the close is clean."""
    messages: list[str | bytes] = ["hello", b"\x00\xff binary", "", "é" * 100_000, b"x" * 70_000]
    url = f"http://127.0.0.1:{ws_server.port}/echo"
    assert _ws(variant, url, messages) == messages
    assert ws_server.log == ["close 1000"]


def test_websocket_ping_read_ahead_and_fragments(variant: Variant, ws_server: Running) -> None:
    """A Ping that arrived with the 101 is answered; replies in several frames are joined."""
    messages: list[str | bytes] = ["one two three", b"four five six"]
    url = f"http://127.0.0.1:{ws_server.port}/tricky"
    assert _ws(variant, url, messages) == messages
    assert ws_server.log == ["pong are you there", "close 1000"]


def test_websocket_rejected_upgrade(variant: Variant, ws_server: Running) -> None:
    """A server that answers the Upgrade with anything but 101 is not talked to."""
    url = f"http://127.0.0.1:{ws_server.port}/elsewhere"
    with pytest.raises(ConnectionError, match=r"did not switch to WebSocket \(403\)"):
        _ws(variant, url, ["hello"])


def test_websocket_connect_error_is_the_same_on_every_backend(variant: Variant) -> None:
    """Nothing listening: every backend raises the same ConnectError, through httptransport."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    with pytest.raises(httptransport.ConnectError):
        _ws(variant, f"http://127.0.0.1:{port}/echo", ["hello"])
    assert httptransport.ConnectError is netbackend_base.ConnectError


# --------------------------------------------------------------------------- RESP


def _redis(
    variant: Variant, resp: Resp, commands: list[tuple[str | bytes, ...]]
) -> list[typing.Any]:
    return typing.cast(
        "list[typing.Any]",
        variant.run(
            doc("redis_commands"),
            doc("redis_commands_async"),
            "127.0.0.1",
            resp.port,
            resp.client_context,
            commands,
        ),
    )


def test_resp_commands(variant: Variant, resp_server: Resp) -> None:
    big = os.urandom(300_000)
    replies = _redis(
        variant,
        resp_server,
        [
            ("PING",),
            ("SET", "k", "v"),
            ("GET", "k"),
            ("GET", "missing"),
            ("ECHO", "héllo"),
            ("SET", b"big", big),
            ("GET", b"big"),
            ("NOPE", "x"),
            ("PING",),
        ],
    )
    assert replies[:7] == ["PONG", "OK", b"v", None, "héllo".encode(), "OK", big]
    error = replies[7]
    assert isinstance(error, Exception)
    assert type(error).__name__ == "RedisError"
    assert str(error) == "ERR unknown command 'NOPE'"
    assert replies[8] == "PONG"  # the connection goes on after an error reply
    assert resp_server.running.log[0] == "PING"


def test_resp_replies_split_into_single_bytes(
    variant: Variant, dribbling_resp_server: Resp
) -> None:
    """However the replies are split across reads, each is parsed whole."""
    replies = _redis(
        variant,
        dribbling_resp_server,
        [("PING",), ("SET", "a", "12345"), ("GET", "a"), ("ECHO", ""), ("GET", "b")],
    )
    assert replies == ["PONG", "OK", b"12345", b"", None]


def test_resp_untrusted_certificate(variant: Variant, resp_server: Resp) -> None:
    """A server the context does not trust: ConnectError from every backend, naming why."""
    untrusted = ssl.create_default_context()
    trustme.CA().configure_trust(untrusted)  # some other CA
    resp = Resp(resp_server.running, untrusted)
    with pytest.raises(netbackend_base.ConnectError) as caught:
        _redis(variant, resp, [("PING",)])
    assert "certificate" in str(caught.value).lower()


def test_resp_parser_alone() -> None:
    """The page's sans-IO parser: every reply kind, and None until a reply is complete."""
    parse = doc("parse_reply")
    wire = b"*3\r\n+OK\r\n:-42\r\n*2\r\n$3\r\nabc\r\n$-1\r\n-ERR no\r\n"
    first_end = len(wire) - len(b"-ERR no\r\n")
    for cut in range(first_end):
        assert parse(wire[:cut]) is None, cut
    reply, end = parse(wire)
    assert (reply, end) == (["OK", -42, [b"abc", None]], first_end)
    error, end = parse(wire, end)
    assert end == len(wire)
    assert str(error) == "ERR no"
    with pytest.raises(ValueError, match="not a RESP reply"):
        parse(b"?what\r\n")
    assert doc("encode_command")("SET", b"k", "v") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
