"""Demo: real HTTPS requests to a loopback server through every installed backend.

Starts an HTTPS server on 127.0.0.1 with a throw-away CA (trustme), then, for each
backend that ``netbackend_base`` discovers and each event loop it serves, sends two
requests on one keep-alive connection with an ``httptransport`` pool and prints what
came back and what TLS negotiated.

Run it with ``hatch run demo:run`` from the repository root.
"""

from __future__ import annotations

import asyncio
import http.server
import ssl
import sys
import threading
import typing

import trustme

import httptransport
import netbackend_base


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a short text body naming the path."""

    protocol_version = "HTTP/1.1"  # keep-alive, so the second request reuses the connection

    def do_GET(self) -> None:
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: typing.Any) -> None:
        pass  # keep the demo's output to what the client saw


def start_server(ca: trustme.CA) -> http.server.ThreadingHTTPServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def describe(responses: list[httptransport.Response], pool: typing.Any) -> str:
    first, last = responses[0], responses[-1]
    stream = first.extensions["network_stream"]
    tls = stream.get_extra_info("ssl_object")
    version = first.extensions["http_version"].decode()
    bodies = " | ".join(r.content.decode().strip() for r in responses)
    return (
        f"{first.status} {version} over {tls.version()}, {len(responses)} requests on "
        f"{len(pool.connections)} connection; bodies: {bodies}; last status {last.status}"
    )


def run_sync(backend_class: type[typing.Any], url: str, context: ssl.SSLContext) -> str:
    with httptransport.ConnectionPool(ssl_context=context, network_backend=backend_class()) as pool:
        responses = [pool.request("GET", f"{url}/{n}") for n in ("first", "second")]
        return describe(responses, pool)


async def run_async(backend_class: type[typing.Any], url: str, context: ssl.SSLContext) -> str:
    async with httptransport.AsyncConnectionPool(
        ssl_context=context, network_backend=backend_class()
    ) as pool:
        responses = [await pool.request("GET", f"{url}/{n}") for n in ("first", "second")]
        return describe(responses, pool)


def main() -> int:
    ca = trustme.CA()
    server = start_server(ca)
    url = f"https://localhost:{server.server_address[1]}"
    context = ssl.create_default_context()
    ca.configure_trust(context)

    backends = netbackend_base.installed_backends()
    if not backends:
        print("No backend installed: pip install netbackend-sync netbackend-anyio netbackend-trio")
        return 1
    print(f"HTTPS server on {url} (127.0.0.1)")
    failures = 0
    for info in backends:
        for loop in info.contexts:
            label = f"{info.name:<6} ({info.distribution}) under {loop:<7}"
            try:
                cls = info.load()
                if loop == "sync":
                    result = run_sync(cls, url, context)
                elif loop == "asyncio":
                    result = asyncio.run(run_async(cls, url, context))
                else:
                    import trio

                    result = trio.run(run_async, cls, url, context)
            except Exception as exc:
                failures += 1
                result = f"FAILED: {type(exc).__name__}: {exc}"
            print(f"{label}: {result}")
    server.shutdown()
    server.server_close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
