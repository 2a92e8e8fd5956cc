"""HTTP/2: no more than one stream before the server's SETTINGS say how many it allows."""

from __future__ import annotations

import socket
import threading
import typing
from collections.abc import Iterator

import pytest

from httptransport import AsyncConnectionPool

h2_config = pytest.importorskip("h2.config")
h2_connection = pytest.importorskip("h2.connection")
h2_events = pytest.importorskip("h2.events")
h2_exceptions = pytest.importorskip("h2.exceptions")
h2_settings = pytest.importorskip("h2.settings")


class LateSettingsServer:
    """An h2c server on 127.0.0.1 that allows ``limit`` concurrent streams, enforced
    from the first frame, and sends its SETTINGS only after the client's first request
    head has arrived, as a server on a slow path would. Opening a stream over the
    limit is a connection error (RFC 9113 section 5.1.2): it answers GOAWAY."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.refused = 0  # connections ended for too many streams
        self.most_open = 0  # the most streams ever open at once on one connection
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        acceptor = threading.Thread(target=self._accept, daemon=True)
        acceptor.start()
        self._threads.append(acceptor)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        config = h2_config.H2Configuration(client_side=False, header_encoding=None)
        conn = h2_connection.H2Connection(config=config)
        # In force at once (not only once the client acknowledges it).
        conn.local_settings = h2_settings.Settings(
            client=False,
            initial_values={h2_settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.limit},
        )
        initiated = False
        with sock:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    events = conn.receive_data(data)
                except h2_exceptions.TooManyStreamsError:
                    with self._lock:
                        self.refused += 1
                    try:
                        sock.sendall(conn.data_to_send())  # GOAWAY (PROTOCOL_ERROR)
                    except OSError:
                        pass
                    return
                for event in events:
                    if isinstance(event, h2_events.RequestReceived) and not initiated:
                        initiated = True
                        conn.initiate_connection()
                    if isinstance(event, h2_events.StreamEnded):
                        conn.send_headers(event.stream_id, [(b":status", b"200")])
                        conn.send_data(event.stream_id, b"ok", end_stream=True)
                with self._lock:
                    self.most_open = max(self.most_open, conn.open_inbound_streams)
                try:
                    sock.sendall(conn.data_to_send())
                except OSError:  # the client hung up (closing its pool)
                    return

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:  # pragma: no cover - platform-dependent
            pass
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def late_settings_server(require_backend: None) -> Iterator[LateSettingsServer]:
    server = LateSettingsServer(limit=2)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.anyio
async def test_streams_wait_for_the_servers_settings(
    late_settings_server: LateSettingsServer, concurrently: typing.Any
) -> None:
    """Six concurrent requests on a new connection to a server allowing 2 streams all
    succeed: one stream until its SETTINGS arrive, then at most two at a time."""
    server = late_settings_server
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=1) as pool:
        bodies: list[bytes] = []

        async def one() -> None:
            response = await pool.request("GET", server.url())
            bodies.append(response.content)

        await concurrently(one, 6)
        assert bodies == [b"ok"] * 6
        assert len(pool.connections) == 1
    assert server.refused == 0
    assert server.connections == 1
    assert server.most_open <= 2


@pytest.mark.anyio
async def test_streams_spread_over_connections_once_the_limit_is_known(
    late_settings_server: LateSettingsServer, concurrently: typing.Any
) -> None:
    """With room for more connections, requests over the server's limit go to another
    connection; none is refused."""
    server = late_settings_server
    async with AsyncConnectionPool(http1=False, http2=True, max_connections=4) as pool:
        bodies: list[bytes] = []

        async def one() -> None:
            response = await pool.request("GET", server.url())
            bodies.append(response.content)

        await concurrently(one, 6)
        assert bodies == [b"ok"] * 6
    assert server.refused == 0
    assert server.most_open <= 2
