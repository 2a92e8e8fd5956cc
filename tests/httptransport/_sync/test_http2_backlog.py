# Generated from tests/httptransport/_async/test_http2_backlog.py by scripts/unasync.py: do not edit.  # noqa: E501
"""HTTP/2: what h2 queues for the socket stays bounded while our writes are stuck."""

from __future__ import annotations

import socket
import struct
import threading
import typing
from collections.abc import Iterator

import pytest

from httptransport import (
    ConnectionInterface,
    ConnectionPool,
    Origin,
    ReadTimeout,
    WriteTimeout,
)

pytest.importorskip("h2")


from httptransport._h2_adapter import MAX_OUTBOUND_BACKLOG, outbound_backlog
from httptransport._sync.http11_body import READ_NUM_BYTES

PING_BYTES = 1024 * 1024  # of PING frames; our acknowledgements are as many bytes


def _frame(kind: int, payload: bytes, stream_id: int = 0) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, 0])
        + struct.pack(">I", stream_id)
        + payload
    )


class PingFlood:
    """An h2c "server" on 127.0.0.1 that never reads: it opens every flow-control window
    wide, then sends PING after PING, each of which the client must acknowledge."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.done = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        self._conns.append(sock)
        wide = 2**31 - 1
        settings = _frame(0x4, struct.pack(">HI", 0x4, wide))  # INITIAL_WINDOW_SIZE
        window = _frame(0x8, struct.pack(">I", wide - 65_535))  # the connection window
        ping = _frame(0x6, b"floodme!")
        try:
            sock.sendall(settings + window)
            sock.sendall(ping * (PING_BYTES // len(ping)))
        except OSError:
            pass
        self.done.set()

    def stop(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:  # pragma: no cover - platform-dependent
            pass
        self._listener.close()
        for sock in self._conns:
            sock.close()
        self._thread.join(5)


@pytest.fixture
def ping_flood(require_backend: None) -> Iterator[PingFlood]:
    server = PingFlood()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.heavy
def test_reader_stops_while_writes_are_stuck(
    ping_flood: PingFlood, concurrently: typing.Any
) -> None:
    """One request's upload is stuck (the server reads nothing) while another request
    reads the server's PINGs: h2's queue of acknowledgements stops growing at the
    bound (plus what one read brings), and both requests end in a timeout."""
    outcomes: dict[str, BaseException] = {}
    taken: list[str] = []

    def body() -> Iterator[bytes]:
        chunk = b"x" * (1024 * 1024)
        for _ in range(256):
            yield chunk

    opened: list[ConnectionInterface] = []

    class Pool(ConnectionPool):
        def create_connection(self, origin: Origin) -> ConnectionInterface:
            connection = super().create_connection(origin)
            opened.append(connection)
            return connection

    with Pool(http1=False, http2=True) as pool:

        def one() -> None:
            role = "upload" if not taken else "reader"
            taken.append(role)
            try:
                if role == "upload":
                    pool.request(
                        "POST",
                        ping_flood.url(),
                        content=body(),
                        extensions={"timeout": {"write": 3.0}},
                    )
                else:
                    pool.request("GET", ping_flood.url(), extensions={"timeout": {"read": 2.0}})
            except (ReadTimeout, WriteTimeout) as exc:
                outcomes[role] = exc

        concurrently(one, 2)
    [connection] = opened
    inner = typing.cast(typing.Any, connection)._connection
    # One slice of a body may join a queue just under the bound; one read adds its ACKs.
    assert outbound_backlog(inner._h2_state) <= 2 * MAX_OUTBOUND_BACKLOG + READ_NUM_BYTES
    # Each ends in a timeout: the upload's write, and the reader's read (or its write,
    # when it took over writing, or the error of the upload, which gives up on the stuck
    # writes and so closes the connection for both). The reader has no write timeout:
    # when it was the one stuck writing, only that close ends its request (it used to
    # hang for ever, about one run in eight under trio).
    assert set(outcomes) == {"upload", "reader"}
