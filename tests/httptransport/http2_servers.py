"""HTTP/2 servers for the httptransport tests: hypercorn for real traffic, and a scripted
peer (an h2 server-side state machine driven by a test function) for edge cases.

Loaded by ``conftest.py`` (the tests run with ``--import-mode=importlib``), which wraps
both in fixtures.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import typing

import h2.config
import h2.connection
import h2.events
import h2.exceptions

__all__ = ("HypercornServer", "PeerConnection", "ScriptedPeer", "asgi_app")


async def asgi_app(scope: dict[str, typing.Any], receive: typing.Any, send: typing.Any) -> None:
    """Routes: ``/`` says hello, ``/echo`` returns the body, ``/bytes/N`` sends N bytes
    in 64 KiB chunks, ``/host`` returns
    the Host the server saw."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if path == "/echo":
        await send({"type": "http.response.body", "body": body})
    elif path.startswith("/bytes/"):
        remaining = int(path.rsplit("/", 1)[1])
        while remaining > 0:
            size = min(remaining, 65536)
            remaining -= size
            await send(
                {"type": "http.response.body", "body": b"x" * size, "more_body": remaining > 0}
            )
    elif path == "/host":
        host = dict(scope["headers"]).get(b"host", b"")
        await send({"type": "http.response.body", "body": host})
    else:
        await send({"type": "http.response.body", "body": b"hello"})


class HypercornServer:
    """hypercorn on 127.0.0.1 in a thread of its own, TLS (ALPN h2) or h2c."""

    def __init__(self, tls_ca: typing.Any = None, tmp_path: typing.Any = None) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{self._listener.fileno()}"]
        config.accesslog = None
        config.errorlog = None
        config.loglevel = "CRITICAL"
        self.scheme = "http"
        if tls_ca is not None:
            pem = tmp_path / "server.pem"
            tls_ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
            config.certfile = str(pem)
            config.keyfile = str(pem)
            self.scheme = "https"
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)

            async def main() -> None:
                self._stop = asyncio.Event()
                started.set()
                try:
                    await serve(asgi_app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
                except ssl.SSLError:
                    # Only at shutdown: hypercorn 0.17 lets a TLS record that crosses its
                    # own close_notify escape from serve(). Clients saw their responses.
                    if not self._stop.is_set():
                        raise

            self._loop.run_until_complete(main())

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        started.wait()

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server."""
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Shut hypercorn down and join its thread."""
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()
        # hypercorn closed the listening socket it was given: only forget the fd.
        self._listener.detach()


class PeerConnection:
    """The server side of one connection, for a script to drive step by step."""

    def __init__(self, sock: socket.socket, settings: dict[int, int] | None = None) -> None:
        self.sock = sock
        # Lenient on what it sends, so that scripts can send malformed responses.
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.h2.initiate_connection()
        if settings:
            self.h2.update_settings(settings)
        self.flush()
        self.closed = False
        self.received: list[typing.Any] = []

    def flush(self) -> None:
        """Send whatever h2 has queued."""
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def events(self) -> list[typing.Any]:
        """Read until h2 yields events; ``[]`` at EOF."""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return []
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                # Frames after our own GOAWAY: h2 refuses them; the script is done.
                self.closed = True
                return []
            self.flush()
            if events:
                self.received.extend(events)
                return events

    def each_event(self) -> typing.Iterator[typing.Any]:
        """Every event, as they arrive, until EOF."""
        while events := self.events():
            yield from events

    def until(self, predicate: typing.Callable[[typing.Any], bool]) -> typing.Any:
        """Read events until one matches ``predicate``; return it (``None`` at EOF)."""
        while True:
            events = self.events()
            if not events:
                return None
            for event in events:
                if predicate(event):
                    return event

    def requests(self, count: int) -> list[int]:
        """Wait for ``count`` complete requests (END_STREAM); return their stream ids."""
        ended: list[int] = []
        while len(ended) < count:
            events = self.events()
            if not events:
                break
            ended += [e.stream_id for e in events if isinstance(e, h2.events.StreamEnded)]
        return ended

    def respond(
        self,
        stream_id: int,
        body: bytes = b"ok",
        *,
        status: int = 200,
        trailers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Send a whole response (no flow-control waits: keep bodies small)."""
        headers = [(b":status", str(status).encode())]
        self.h2.send_headers(stream_id, headers, end_stream=not body and not trailers)
        if body:
            self.h2.send_data(stream_id, body, end_stream=not trailers)
        if trailers:
            self.h2.send_headers(stream_id, trailers, end_stream=True)
        self.flush()


class ScriptedPeer:
    """A threaded HTTP/2 server on 127.0.0.1; each connection runs ``script(peer, n)``
    (``n`` counts connections from 0) in its own thread."""

    def __init__(
        self,
        script: typing.Callable[[PeerConnection, int], None],
        *,
        ssl_context: ssl.SSLContext | None = None,
        settings: dict[int, int] | None = None,
    ) -> None:
        self._script = script
        self._ssl_context = ssl_context
        self._settings = settings
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.scheme = "https" if ssl_context else "http"
        self.connections: list[PeerConnection] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server."""
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        count = 0
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock, count), daemon=True)
            count += 1
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        try:
            if self._ssl_context is not None:
                sock = self._ssl_context.wrap_socket(sock, server_side=True)
            self._sockets.append(sock)
            peer = PeerConnection(sock, self._settings)
            self.connections.append(peer)
            self._script(peer, index)
        except Exception as exc:  # pragma: no cover - reported by stop()
            self.errors.append(exc)
        finally:
            try:
                sock.close()
            except OSError:  # pragma: no cover
                pass

    def stop(self) -> None:
        """Stop accepting, close every connection and join the threads."""
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:  # pragma: no cover - platform-dependent
            pass
        self._listener.close()
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._acceptor.join()
        for thread in self._threads:
            thread.join(10)
