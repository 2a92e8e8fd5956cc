"""The README's demo (scripts/demo.py): every installed backend and loop, every protocol."""

from __future__ import annotations

import importlib.util
import re
import socket
import ssl
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import netbackend_base

DEMO = Path(__file__).resolve().parent.parent / "scripts" / "demo.py"
PROTOCOLS = ("HTTP/1.1 TLS", "HTTP/1.1 cleartext", "HTTP/2 TLS", "h2c")
NEGOTIATED = {
    "HTTP/1.1 TLS": "HTTP/1.1 over TLSv1.",
    "HTTP/1.1 cleartext": "HTTP/1.1 cleartext",
    "HTTP/2 TLS": "HTTP/2 over TLSv1.",
    "h2c": "HTTP/2 cleartext",
}
# Run without h2: the module is blocked before the demo starts, as if not installed.
WITHOUT_H2 = (
    "import runpy, sys; sys.modules['h2'] = None; sys.argv = [sys.argv[1]]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _expected_rows() -> list[tuple[str, str, str]]:
    return [
        (info.name, context, protocol)
        for info in netbackend_base.installed_backends()
        for context in info.contexts
        for protocol in PROTOCOLS
    ]


def _table(stdout: str) -> list[list[str]]:
    """The table's rows, split into cells (columns are at least two spaces apart)."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("backend "))
    assert re.split(r"\s{2,}", lines[header]) == [
        "backend",
        "loop",
        "protocol",
        "status",
        "time (ms)",
        "notes",
    ]
    assert set(lines[header + 1]) <= {"-", " "}
    rows = []
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def _check(result: subprocess.CompletedProcess[str], with_h2: bool) -> None:
    expected = _expected_rows()
    if not expected:
        assert result.returncode == 1
        assert "pip install netbackend-sync" in result.stdout
        return
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _table(result.stdout)
    assert [tuple(row[:3]) for row in rows] == expected, result.stdout
    ran = 0
    for row in rows:
        protocol = row[2]
        if protocol in ("HTTP/2 TLS", "h2c") and not with_h2:
            assert row[3:] == ["-", "h2 not installed (pip install 'httptransport[http2]')"]
            continue
        ran += 1
        status, millis, notes = row[3:]
        assert status == "200", row
        assert float(millis) > 0
        assert notes.startswith(NEGOTIATED[protocol]), row
        assert notes.endswith("; 2 requests on 1 connection"), row
    skipped = len(rows) - ran
    summary = f"{ran} of {ran} rows OK" + (f", {skipped} skipped" if skipped else "")
    assert result.stdout.rstrip().endswith(summary)


def test_demo_table_covers_every_backend_loop_and_protocol() -> None:
    """A row per installed backend, loop and protocol, each with two 200 responses on one
    connection over the protocol asked for; or, with no backend, what to install."""
    with_h2 = importlib.util.find_spec("h2") is not None
    _check(_run(str(DEMO)), with_h2)


def test_demo_without_h2_skips_only_the_http2_rows() -> None:
    """Where h2 is missing (the demo environment without it), HTTP/1.1 still runs."""
    result = _run("-c", WITHOUT_H2, str(DEMO))
    _check(result, with_h2=False)
    if _expected_rows():
        assert "HTTP/2 skipped: h2 not installed" in result.stdout.splitlines()[0]


@pytest.mark.skipif(importlib.util.find_spec("h2") is None, reason="needs h2")
def test_demo_server_answers_http2_by_alpn_and_prior_knowledge() -> None:
    """The demo's server on its own: h2 over TLS by ALPN, and h2c, checked with h2 itself."""
    import h2.config
    import h2.connection
    import h2.events
    import trustme

    spec = importlib.util.spec_from_file_location("_demo_under_test", DEMO)
    assert spec is not None
    assert spec.loader is not None
    demo: typing.Any = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = demo  # dataclasses look their module up there
    try:
        spec.loader.exec_module(demo)
    finally:
        del sys.modules[spec.name]

    ca = trustme.CA()
    servers = demo.start_servers(ca)
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        context.set_alpn_protocols(["h2"])
        for port, tls in ((servers.tls.port, True), (servers.cleartext.port, False)):
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
            with sock:
                if tls:
                    assert isinstance(sock, ssl.SSLSocket)
                    assert sock.selected_alpn_protocol() == "h2"
                conn = h2.connection.H2Connection(
                    h2.config.H2Configuration(client_side=True, header_encoding=None)
                )
                conn.initiate_connection()
                request = [(b":method", b"GET"), (b":scheme", b"https" if tls else b"http")]
                request += [(b":authority", b"127.0.0.1"), (b":path", b"/x")]
                conn.send_headers(1, request, end_stream=True)
                sock.sendall(conn.data_to_send())
                body, status = b"", None
                while not body.endswith(b"\n"):
                    for event in conn.receive_data(sock.recv(65536)):
                        if isinstance(event, h2.events.ResponseReceived):
                            status = dict(event.headers)[b":status"]
                        elif isinstance(event, h2.events.DataReceived):
                            body += event.data
                    sock.sendall(conn.data_to_send())
                assert status == b"200"
                assert body == b"hello from /x over HTTP/2\n"
    finally:
        servers.stop()
