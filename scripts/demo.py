"""Demo: HTTP/1.1 and HTTP/2, over TLS and cleartext, through every installed backend.

Starts a loopback server (127.0.0.1 only, a throw-away CA from trustme) that speaks
HTTP/1.1 and HTTP/2 over TLS (chosen by ALPN) and in cleartext (HTTP/2 by prior
knowledge, "h2c"), written with h11 and h2. Then, for each backend that
``netbackend_base`` discovers and each context it serves (blocking, asyncio, trio), it
sends two requests on one connection of an ``httptransport`` pool for each protocol,
and prints a table: backend, loop, protocol, status, time and what was negotiated.

Without h2 installed the HTTP/2 rows are marked as skipped and the rest still runs.

Run it with ``hatch run demo:run`` from the repository root. The exit status is 0 when
every row that ran got its two 200 responses over the protocol it asked for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import socket
import socketserver
import ssl
import sys
import threading
import time
import typing

import h11
import trustme

import httptransport
import netbackend_base

HAVE_H2 = importlib.util.find_spec("h2") is not None
H2_MISSING = "h2 not installed (pip install 'httptransport[http2]')"
TIMEOUTS = {"timeout": {"connect": 10.0, "read": 10.0, "write": 10.0, "pool": 10.0}}
PATHS = ("/first", "/second")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """One column of the matrix: how the pool is configured and what it must negotiate."""

    label: str
    tls: bool
    http1: bool
    http2: bool
    expect: bytes  # the response's http_version extension

    @property
    def needs_h2(self) -> bool:
        return self.http2


PROTOCOLS = (
    Protocol("HTTP/1.1 TLS", tls=True, http1=True, http2=False, expect=b"HTTP/1.1"),
    Protocol("HTTP/1.1 cleartext", tls=False, http1=True, http2=False, expect=b"HTTP/1.1"),
    Protocol("HTTP/2 TLS", tls=True, http1=True, http2=True, expect=b"HTTP/2"),  # by ALPN
    Protocol("h2c", tls=False, http1=False, http2=True, expect=b"HTTP/2"),  # prior knowledge
)


# --------------------------------------------------------------------------- server


def reply_body(version: str, target: bytes) -> bytes:
    return f"hello from {target.decode()} over {version}\n".encode()


def serve_http11(sock: socket.socket, data: bytes) -> None:
    """Answer GETs with h11 until the client closes (keep-alive)."""
    conn = h11.Connection(h11.SERVER)
    if data:  # what the protocol sniffing read already (an empty one would mean EOF)
        conn.receive_data(data)
    target = b"/"
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))  # b"": EOF, then ConnectionClosed
        elif isinstance(event, h11.Request):
            target = event.target
        elif isinstance(event, h11.EndOfMessage):
            body = reply_body("HTTP/1.1", target)
            headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            sock.sendall(
                conn.send(h11.Response(status_code=200, headers=headers))
                + conn.send(h11.Data(data=body))
                + conn.send(h11.EndOfMessage())
            )
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return


def serve_http2(sock: socket.socket, data: bytes) -> None:
    """Answer every request with h2 until the client closes or sends GOAWAY."""
    import h2.config
    import h2.connection
    import h2.events

    config = h2.config.H2Configuration(client_side=False, header_encoding=None)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    while data := data or sock.recv(65536):
        events = conn.receive_data(data)
        data = b""
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                target = dict(event.headers)[b":path"]
                body = reply_body("HTTP/2", target)
                headers = [
                    (b":status", b"200"),
                    (b"content-type", b"text/plain"),
                    (b"content-length", str(len(body)).encode()),
                ]
                conn.send_headers(event.stream_id, headers)
                conn.send_data(event.stream_id, body, end_stream=True)
            elif isinstance(event, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        sock.sendall(conn.data_to_send())


class Handler(socketserver.BaseRequestHandler):
    """One connection: TLS first if this listener has a context, then HTTP/1.1 or HTTP/2."""

    server: Listener

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        # Small writes (TLS handshake records, session tickets) go out at once rather than
        # waiting on Nagle's algorithm for the client's delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            data = b""
            if self.server.tls is not None:
                sock = self.server.tls.wrap_socket(sock, server_side=True)
                http2 = sock.selected_alpn_protocol() == "h2"
            else:
                # Cleartext: HTTP/2 with prior knowledge starts with its preface.
                while len(data) < 4 and (chunk := sock.recv(65536)):
                    data += chunk
                http2 = data.startswith(b"PRI ")
            if http2 and HAVE_H2:
                serve_http2(sock, data)
            else:
                serve_http11(sock, data)
        except (OSError, h11.ProtocolError):
            pass  # the client went away; nothing to report in a demo
        finally:
            sock.close()


class Listener(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls = tls
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@dataclasses.dataclass
class Servers:
    tls: Listener
    cleartext: Listener

    def url(self, protocol: Protocol) -> str:
        if protocol.tls:
            return f"https://127.0.0.1:{self.tls.port}"
        return f"http://127.0.0.1:{self.cleartext.port}"

    def stop(self) -> None:
        self.tls.stop()
        self.cleartext.stop()


def start_servers(ca: trustme.CA) -> Servers:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    context.set_alpn_protocols(["h2", "http/1.1"] if HAVE_H2 else ["http/1.1"])
    return Servers(tls=Listener(context), cleartext=Listener(None))


# --------------------------------------------------------------------------- client


@dataclasses.dataclass
class Row:
    backend: str
    loop: str
    protocol: str
    status: str
    millis: float | None
    notes: str
    ok: bool | None  # None: skipped


def check(protocol: Protocol, responses: list[httptransport.Response], connections: int) -> Row:
    """The row for one protocol's responses: fine only if all were 200 over what we asked."""
    statuses = {response.status for response in responses}
    versions = {response.extensions["http_version"] for response in responses}
    stream = responses[0].extensions.get("network_stream")
    tls = stream.get_extra_info("ssl_object") if stream is not None else None
    ok = statuses == {200} and versions == {protocol.expect} and connections == 1
    over = "over " + tls.version() if protocol.tls and tls is not None else "cleartext"
    notes = (
        f"{' '.join(sorted(v.decode() for v in versions))} {over}; "
        f"{len(responses)} requests on {connections} connection{'s' * (connections != 1)}"
    )
    status = "/".join(str(s) for s in sorted(statuses))
    return Row("", "", protocol.label, status, None, notes, ok)


def pool_options(protocol: Protocol, context: ssl.SSLContext) -> dict[str, typing.Any]:
    return {"ssl_context": context, "http1": protocol.http1, "http2": protocol.http2}


def run_sync(
    backend_class: type[typing.Any], protocol: Protocol, url: str, context: ssl.SSLContext
) -> Row:
    options = pool_options(protocol, context)
    with httptransport.ConnectionPool(network_backend=backend_class(), **options) as pool:
        responses = [pool.request("GET", url + path, extensions=TIMEOUTS) for path in PATHS]
        return check(protocol, responses, len(pool.connections))


async def run_async(
    backend_class: type[typing.Any], protocol: Protocol, url: str, context: ssl.SSLContext
) -> Row:
    options = pool_options(protocol, context)
    async with httptransport.AsyncConnectionPool(
        network_backend=backend_class(), **options
    ) as pool:
        responses = [await pool.request("GET", url + path, extensions=TIMEOUTS) for path in PATHS]
        return check(protocol, responses, len(pool.connections))


async def run_all_async(
    backend_class: type[typing.Any], servers: Servers, context: ssl.SSLContext
) -> list[Row]:
    rows = []
    for protocol in PROTOCOLS:
        if protocol.needs_h2 and not HAVE_H2:
            rows.append(Row("", "", protocol.label, "-", None, H2_MISSING, None))
            continue
        url = servers.url(protocol)
        start = time.perf_counter()
        try:
            row = await run_async(backend_class, protocol, url, context)
        except Exception as exc:
            row = Row("", "", protocol.label, "error", None, f"{type(exc).__name__}: {exc}", False)
        row.millis = (time.perf_counter() - start) * 1000
        rows.append(row)
    return rows


def run_all_sync(
    backend_class: type[typing.Any], servers: Servers, context: ssl.SSLContext
) -> list[Row]:
    rows = []
    for protocol in PROTOCOLS:
        if protocol.needs_h2 and not HAVE_H2:
            rows.append(Row("", "", protocol.label, "-", None, H2_MISSING, None))
            continue
        url = servers.url(protocol)
        start = time.perf_counter()
        try:
            row = run_sync(backend_class, protocol, url, context)
        except Exception as exc:
            row = Row("", "", protocol.label, "error", None, f"{type(exc).__name__}: {exc}", False)
        row.millis = (time.perf_counter() - start) * 1000
        rows.append(row)
    return rows


def run_backend(
    info: netbackend_base.BackendInfo, loop: str, servers: Servers, context: ssl.SSLContext
) -> list[Row]:
    """Every protocol through one backend on one loop. A first, untimed pass warms up (so
    the times do not include importing the backend, its event-loop support or h2)."""
    backend_class = info.load()
    if loop == "sync":
        run_all_sync(backend_class, servers, context)
        return run_all_sync(backend_class, servers, context)

    async def twice() -> list[Row]:
        await run_all_async(backend_class, servers, context)
        return await run_all_async(backend_class, servers, context)

    if loop == "asyncio":
        return asyncio.run(twice())
    import trio

    return trio.run(twice)


# --------------------------------------------------------------------------- table

COLUMNS = ("backend", "loop", "protocol", "status", "time (ms)", "notes")


def cells(row: Row) -> tuple[str, ...]:
    millis = "" if row.millis is None else f"{row.millis:.1f}"
    return (row.backend, row.loop, row.protocol, row.status, millis, row.notes)


def print_table(rows: list[Row]) -> None:
    table = [COLUMNS, *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS) - 1)]
    right = {4}  # numbers are right-aligned

    def render(line: tuple[str, ...]) -> str:
        parts = [
            value.rjust(width) if i in right else value.ljust(width)
            for i, (value, width) in enumerate(zip(line, widths, strict=False))
        ]
        return "  ".join([*parts, line[-1]]).rstrip()

    print(render(table[0]))
    print("  ".join("-" * width for width in [*widths, len(COLUMNS[-1])]))
    for line in table[1:]:
        print(render(line))


def main() -> int:
    backends = netbackend_base.installed_backends()
    if not backends:
        print("No backend installed: pip install netbackend-sync netbackend-anyio netbackend-trio")
        return 1
    ca = trustme.CA()
    servers = start_servers(ca)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    h2_note = "" if HAVE_H2 else f"; HTTP/2 skipped: {H2_MISSING}"
    print(
        f"Loopback server: {servers.url(PROTOCOLS[0])} (TLS; ALPN h2 or http/1.1) and "
        f"{servers.url(PROTOCOLS[1])} (cleartext; HTTP/1.1 or h2c){h2_note}"
    )
    print("Each row: a new pool, two GET requests; the time includes connecting and TLS.\n")
    rows: list[Row] = []
    try:
        for info in backends:
            for loop in info.contexts:
                try:
                    found = run_backend(info, loop, servers, context)
                except Exception as exc:  # the warm-up failed: report every protocol
                    note = f"{type(exc).__name__}: {exc}"
                    found = [Row("", "", p.label, "error", None, note, False) for p in PROTOCOLS]
                for row in found:
                    row.backend, row.loop = info.name, loop
                rows.extend(found)
    finally:
        servers.stop()
    print_table(rows)
    ran = [row for row in rows if row.ok is not None]
    failed = [row for row in ran if not row.ok]
    print(
        f"\n{len(ran) - len(failed)} of {len(ran)} rows OK"
        + (f", {len(rows) - len(ran)} skipped" if len(ran) < len(rows) else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
