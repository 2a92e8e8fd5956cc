"""Demo: open a TLS stream to a loopback server through every installed backend.

Starts a TLS echo server on 127.0.0.1 with a throw-away CA (trustme), then, for each
backend that ``netbackend_base`` discovers, connects, runs the TLS handshake with ALPN
and SNI, echoes a message, and prints what was negotiated.

Run it with ``hatch run demo:run`` from the repository root.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import threading
import typing

import trustme

import netbackend_base

MESSAGE = b"hello over TLS"


class TLSEchoServer:
    """A threaded TLS echo server on 127.0.0.1 that offers ALPN h2 and http/1.1."""

    def __init__(self, ca: trustme.CA) -> None:
        cert = ca.issue_cert("localhost", "127.0.0.1")
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.context)
        self.context.set_alpn_protocols(["h2", "http/1.1"])
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return  # listener closed: the demo is over
            threading.Thread(target=self._echo, args=(raw,), daemon=True).start()

    def _echo(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                while data := conn.recv(65536):
                    conn.sendall(data)
        except (OSError, ssl.SSLError):
            pass  # the client went away mid-handshake or mid-echo

    def close(self) -> None:
        self.listener.close()


def describe(stream: typing.Any) -> str:
    tls = stream.get_extra_info("ssl_object")
    return (
        f"{tls.version()}, cipher {tls.cipher()[0]}, ALPN {tls.selected_alpn_protocol()!r}, "
        f"local {stream.get_extra_info('client_addr')} -> {stream.get_extra_info('server_addr')}"
    )


def run_sync(backend_class: type[typing.Any], port: int, context: ssl.SSLContext) -> str:
    backend: netbackend_base.NetworkBackend = backend_class()
    stream = backend.connect_tcp("127.0.0.1", port, timeout=5)
    try:
        stream = stream.start_tls(context, server_hostname="localhost", timeout=5)
        stream.write(MESSAGE)
        echoed = stream.read(1024, timeout=5)
        assert echoed == MESSAGE, echoed
        return describe(stream)
    finally:
        stream.close()


async def run_async(backend_class: type[typing.Any], port: int, context: ssl.SSLContext) -> str:
    backend: netbackend_base.AsyncNetworkBackend = backend_class()
    stream = await backend.connect_tcp("127.0.0.1", port, timeout=5)
    try:
        stream = await stream.start_tls(context, server_hostname="localhost", timeout=5)
        await stream.write(MESSAGE)
        echoed = await stream.read(1024, timeout=5)
        assert echoed == MESSAGE, echoed
        return describe(stream)
    finally:
        await stream.aclose()


def main() -> int:
    ca = trustme.CA()
    server = TLSEchoServer(ca)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    client_context.set_alpn_protocols(["h2", "http/1.1"])

    backends = netbackend_base.installed_backends()
    if not backends:
        print("No backend installed: pip install netbackend-sync netbackend-anyio netbackend-trio")
        return 1
    failures = 0
    for info in backends:
        for context in info.contexts:
            label = f"{info.name:<6} ({info.distribution}) under {context:<7}"
            try:
                cls = info.load()
                if context == "sync":
                    result = run_sync(cls, server.port, client_context)
                elif context == "asyncio":
                    result = asyncio.run(run_async(cls, server.port, client_context))
                else:
                    import trio

                    result = trio.run(run_async, cls, server.port, client_context)
            except Exception as exc:
                failures += 1
                result = f"FAILED: {type(exc).__name__}: {exc}"
            print(f"{label}: {result}")
    server.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
