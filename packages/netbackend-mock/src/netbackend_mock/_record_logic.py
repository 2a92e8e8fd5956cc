"""What a recording backend writes into its cassette, without any I/O.

Shared by the blocking and async recording backends, whose methods call the inner
backend and stream and report each outcome here. Connections get their record (and their
number) when ``connect_*`` is called, so the cassette lists them in call order whatever
the order the connects finish in.
"""

from __future__ import annotations

import threading
import typing

from netbackend_base import SOCKET_OPTION

from ._cassette import (
    Cassette,
    Event,
    RecordedConnection,
    RecordedError,
    RecordedResolve,
    TLSInfo,
)

__all__ = (
    "ConnectionRecorder",
    "RecorderCore",
    "tls_info",
)


def tls_info(server_hostname: str | None, ssl_object: typing.Any) -> TLSInfo:
    """What a finished handshake negotiated, from the stream's ``ssl_object`` (if any)."""
    info = TLSInfo(server_hostname)
    if ssl_object is None:
        return info
    info.alpn = _ask(ssl_object, "selected_alpn_protocol")
    info.version = _ask(ssl_object, "version")
    cipher = _ask(ssl_object, "cipher")
    info.cipher = None if cipher is None else (str(cipher[0]), str(cipher[1]), int(cipher[2]))
    info.peercert = _ask(ssl_object, "getpeercert")
    info.peercert_der = _ask(ssl_object, "getpeercert", True)
    return info


def _ask(ssl_object: typing.Any, method: str, *args: typing.Any) -> typing.Any:
    try:
        return getattr(ssl_object, method)(*args)
    except Exception:  # not an ssl.SSLObject, or it cannot tell: record nothing
        return None


class ConnectionRecorder:
    """Appends the events of one connection to its :class:`RecordedConnection`.

    Every method runs to completion under the backend's lock, so a reader and a writer
    in different threads or tasks append in the order their calls happened.
    """

    def __init__(self, record: RecordedConnection, number: int, lock: threading.Lock) -> None:
        self.record = record
        self.number = number
        self._lock = lock

    def _append(self, event: Event) -> None:
        with self._lock:
            self.record.events.append(event)

    def writing(self, data: bytes) -> None:
        """Bytes about to be written (recorded before the write, so that a reply to them
        that another task reads meanwhile comes after them in the cassette)."""
        if not data:
            return
        with self._lock:
            events = self.record.events
            if events and events[-1].op == "write" and events[-1].error is None:
                events[-1].data += bytes(data)
            else:
                events.append(Event("write", data=bytes(data)))

    def write_failed(self, exc: BaseException) -> None:
        error = RecordedError.of(exc)
        if error is not None:
            self._append(Event("write", error=error))

    def read(self, data: bytes) -> None:
        self._append(Event("read", data=bytes(data)) if data else Event("eof"))

    def read_failed(self, exc: BaseException) -> None:
        error = RecordedError.of(exc)
        if error is not None:
            self._append(Event("read", error=error))

    def is_readable(self, value: bool) -> None:
        """An ``is_readable`` answer; repeats of the same answer in a row are kept once."""
        with self._lock:
            events = self.record.events
            if events and events[-1].op == "is_readable" and events[-1].readable == value:
                return
            events.append(Event("is_readable", readable=value))

    def started_tls(self, server_hostname: str | None, ssl_object: typing.Any) -> None:
        self._append(Event("start_tls", tls=tls_info(server_hostname, ssl_object)))

    def tls_failed(self, server_hostname: str | None, exc: BaseException) -> None:
        error = RecordedError.of(exc) or RecordedError("ConnectError", str(exc))
        self._append(Event("start_tls", tls=TLSInfo(server_hostname, error=error)))

    def closed(self) -> None:
        with self._lock:
            events = self.record.events
            if not events or events[-1].op != "close":
                events.append(Event("close"))


class RecorderCore:
    """The backend half: numbers connections and records them into the cassette."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self._lock = threading.Lock()

    def begin_tcp(
        self,
        host: str,
        port: int,
        local_address: str | None,
        socket_options: typing.Iterable[SOCKET_OPTION] | None,
    ) -> tuple[ConnectionRecorder, tuple[SOCKET_OPTION, ...] | None]:
        options = None if socket_options is None else tuple(socket_options)
        record = RecordedConnection(
            "tcp", host=host, port=port, local_address=local_address, socket_options=options
        )
        return self._begin(record), options

    def begin_unix(
        self, path: str, socket_options: typing.Iterable[SOCKET_OPTION] | None
    ) -> tuple[ConnectionRecorder, tuple[SOCKET_OPTION, ...] | None]:
        options = None if socket_options is None else tuple(socket_options)
        record = RecordedConnection("unix", path=path, socket_options=options)
        return self._begin(record), options

    def _begin(self, record: RecordedConnection) -> ConnectionRecorder:
        with self._lock:
            self.cassette.connections.append(record)
            number = len(self.cassette.connections)
        return ConnectionRecorder(record, number, self._lock)

    def connect_failed(self, recorder: ConnectionRecorder, exc: BaseException) -> None:
        recorder.record.error = RecordedError.of(exc) or RecordedError("ConnectError", str(exc))

    def connected(
        self, recorder: ConnectionRecorder, client_addr: typing.Any, server_addr: typing.Any
    ) -> None:
        recorder.record.client_addr = client_addr
        recorder.record.server_addr = server_addr

    def resolved(self, host: str, family: int, addresses: list[str]) -> None:
        with self._lock:
            self.cassette.resolves.append(RecordedResolve(host, family, list(addresses)))

    def resolve_failed(self, host: str, family: int, exc: BaseException) -> None:
        error = RecordedError.of(exc)
        if error is not None:
            with self._lock:
                self.cassette.resolves.append(RecordedResolve(host, family, error=error))
