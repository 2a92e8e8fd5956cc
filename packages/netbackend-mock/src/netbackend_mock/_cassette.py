"""The cassette: what a recording backend saw, as data, and its text file format.

No I/O beyond reading and writing the file: the recording and replaying backends (in
:mod:`netbackend_mock._record_sync` and :mod:`netbackend_mock._record_async`) fill a
:class:`Cassette` and play one back through :mod:`netbackend_mock._replay_logic`.

The file format
---------------
JSON lines, UTF-8, one object per line, so that a re-recording shows up in a diff as
the lines that changed. The first line names the format and its version::

    {"format": "netbackend-cassette", "version": 1}

Then, for each connection in the order it was opened (connections are numbered from 1),
the line that opened it and one line per event on it, in order::

    {"connection": 1, "op": "connect_tcp", "host": "127.0.0.1", "port": 8000, ...}
    {"connection": 1, "op": "write", "text": "GET / HTTP/1.1\\r\\nHost: ...\\r\\n\\r\\n"}
    {"connection": 1, "op": "read", "text": "HTTP/1.1 200 OK\\r\\n..."}
    {"connection": 1, "op": "close"}

and last the name lookups, one line each (``{"op": "resolve", ...}``). Bytes are
``"text"`` when they are UTF-8 made of printable characters, tabs and line breaks, and
``"base64"`` otherwise. Connections are written one after the other, not interleaved as
they ran, so that concurrency does not reorder the file from one recording to the next.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import typing

import netbackend_base
from netbackend_base import SOCKET_OPTION

__all__ = (
    "FORMAT",
    "VERSION",
    "Cassette",
    "CassetteFormatError",
    "Event",
    "RecordedConnection",
    "RecordedError",
    "RecordedResolve",
    "TLSInfo",
)

FORMAT = "netbackend-cassette"
VERSION = 1

EventOp = typing.Literal["write", "read", "eof", "is_readable", "start_tls", "close"]
_EVENT_OPS: tuple[str, ...] = typing.get_args(EventOp)

# The exceptions a cassette can hold, most specific first: a recorded failure is
# replayed as the first of these its exception was an instance of.
_ERROR_TYPES: tuple[type[Exception], ...] = (
    netbackend_base.ConnectTimeout,
    netbackend_base.ReadTimeout,
    netbackend_base.WriteTimeout,
    netbackend_base.ConnectError,
    netbackend_base.ReadError,
    netbackend_base.WriteError,
    netbackend_base.TimeoutException,
    netbackend_base.NetworkError,
)
_ERRORS_BY_NAME = {cls.__name__: cls for cls in _ERROR_TYPES}


class CassetteFormatError(ValueError):
    """A cassette file could not be read: not the format, a newer version, a bad line."""


@dataclasses.dataclass
class RecordedError:
    """A network error a call raised while recording, replayed as the same type.

    Attributes:
        type: The name of a netbackend-base exception (``"ConnectError"``,
            ``"ReadTimeout"``, ...).
        message: Its message.
    """

    type: str
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> RecordedError | None:
        """The record of ``exc``, or ``None`` if it is not a netbackend-base network error."""
        for error_type in _ERROR_TYPES:
            if isinstance(exc, error_type):
                return cls(error_type.__name__, str(exc))
        return None

    def exception(self) -> Exception:
        """A new exception of the recorded type (``NetworkError`` for an unknown name)."""
        return _ERRORS_BY_NAME.get(self.type, netbackend_base.NetworkError)(self.message)


@dataclasses.dataclass
class TLSInfo:
    """One ``start_tls``: its argument, and what the handshake negotiated.

    Attributes:
        server_hostname: The ``server_hostname`` passed to ``start_tls``.
        alpn: ``ssl_object.selected_alpn_protocol()``.
        version: ``ssl_object.version()``, such as ``"TLSv1.3"``.
        cipher: ``ssl_object.cipher()``: name, protocol, secret bits.
        peercert: ``ssl_object.getpeercert()`` (empty when the peer was not verified).
        peercert_der: ``ssl_object.getpeercert(binary_form=True)``.
        error: The handshake's failure, if it failed.
    """

    server_hostname: str | None
    alpn: str | None = None
    version: str | None = None
    cipher: tuple[str, str, int] | None = None
    peercert: dict[str, typing.Any] | None = None
    peercert_der: bytes | None = None
    error: RecordedError | None = None


@dataclasses.dataclass
class Event:
    """One thing that happened on a connection, in order.

    Attributes:
        op: ``"write"`` (client to server bytes), ``"read"`` (server to client bytes, as
            one read returned them), ``"eof"`` (a read returned ``b""``),
            ``"is_readable"`` (what ``get_extra_info("is_readable")`` answered),
            ``"start_tls"``, ``"close"``.
        data: The bytes of a ``"write"`` or ``"read"``. Consecutive writes are stored
            as one: replay compares written bytes as a stream.
        readable: The answer of an ``"is_readable"``.
        tls: The details of a ``"start_tls"``.
        error: The network error a ``"write"`` or ``"read"`` raised.
    """

    op: EventOp
    data: bytes = b""
    readable: bool = False
    tls: TLSInfo | None = None
    error: RecordedError | None = None


@dataclasses.dataclass
class RecordedConnection:
    """One connection attempt and everything that happened on it.

    Attributes:
        kind: ``"tcp"`` (``connect_tcp``) or ``"unix"`` (``connect_unix_socket``).
        host: The host passed to ``connect_tcp``.
        port: The port passed to ``connect_tcp``.
        path: The path passed to ``connect_unix_socket``.
        local_address: The ``local_address`` passed (recorded, not matched).
        socket_options: The ``socket_options`` passed (recorded, not matched).
        client_addr: ``get_extra_info("client_addr")`` of the stream opened.
        server_addr: ``get_extra_info("server_addr")`` of the stream opened.
        error: The network error the connect raised, if it failed.
        events: What happened on the stream, in order.
    """

    kind: typing.Literal["tcp", "unix"]
    host: str | None = None
    port: int | None = None
    path: str | None = None
    local_address: str | None = None
    socket_options: tuple[SOCKET_OPTION, ...] | None = None
    client_addr: typing.Any = None
    server_addr: typing.Any = None
    error: RecordedError | None = None
    events: list[Event] = dataclasses.field(default_factory=list)

    def describe(self) -> str:
        """The connect call, as code: ``connect_tcp('example.org', 443)``."""
        if self.kind == "tcp":
            return f"connect_tcp({self.host!r}, {self.port!r})"
        return f"connect_unix_socket({self.path!r})"


@dataclasses.dataclass
class RecordedResolve:
    """One ``resolve`` call on the backend, and its answer.

    Attributes:
        host: The host asked about.
        family: The address family asked for.
        addresses: The addresses returned.
        error: The network error it raised instead.
    """

    host: str
    family: int
    addresses: list[str] = dataclasses.field(default_factory=list)
    error: RecordedError | None = None


@dataclasses.dataclass
class Cassette:
    """Recorded connections, byte for byte, and name lookups.

    Build an empty one to record into; :meth:`load` one to replay. Two cassettes are
    equal when they hold the same records, so ``Cassette.loads(c.dumps()) == c``.

    Attributes:
        connections: Every connection attempt, in the order ``connect_*`` was called.
        resolves: Every ``resolve`` call, in order.
    """

    connections: list[RecordedConnection] = dataclasses.field(default_factory=list)
    resolves: list[RecordedResolve] = dataclasses.field(default_factory=list)

    # -- text -------------------------------------------------------------------------

    def dumps(self) -> str:
        """The cassette in its file format (see the module docstring)."""
        lines = [_line({"format": FORMAT, "version": VERSION})]
        for number, connection in enumerate(self.connections, start=1):
            lines.append(_line({"connection": number, **_connection_fields(connection)}))
            for event in connection.events:
                lines.append(_line({"connection": number, **_event_fields(event)}))
        for resolved in self.resolves:
            fields: dict[str, typing.Any] = {
                "op": "resolve",
                "host": resolved.host,
                "family": resolved.family,
                "addresses": resolved.addresses,
            }
            lines.append(_line(_with_error(fields, resolved.error)))
        return "".join(lines)

    @classmethod
    def loads(cls, text: str) -> Cassette:
        """Parse what :meth:`dumps` writes.

        Raises:
            CassetteFormatError: The text is not a cassette this version can read.
        """
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if not lines:
            raise CassetteFormatError("empty cassette: no format line")
        header = _parse(*lines[0])
        if header.get("format") != FORMAT:
            raise CassetteFormatError(
                f"line 1: not a {FORMAT} file (format: {header.get('format')!r})"
            )
        version = header.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise CassetteFormatError(
                f"line 1: cassette format version {version!r}; this netbackend-mock reads "
                f"versions up to {VERSION}"
            )
        cassette = cls()
        for lineno, line in lines[1:]:
            fields = _parse(lineno, line)
            try:
                cassette._add(fields)
            except (KeyError, TypeError, ValueError) as exc:
                raise CassetteFormatError(f"line {lineno}: {exc!r} in {line[:200]}") from exc
        return cassette

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the cassette to ``path`` (UTF-8, ``\\n`` line ends), replacing it."""
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write(self.dumps())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read a cassette file :meth:`save` wrote.

        Raises:
            CassetteFormatError: The file is not a cassette this version can read.
            OSError: The file could not be read.
        """
        with open(path, encoding="utf-8") as file:
            return cls.loads(file.read())

    def _add(self, fields: dict[str, typing.Any]) -> None:
        op = fields["op"]
        if op == "resolve":
            self.resolves.append(
                RecordedResolve(
                    host=str(fields["host"]),
                    family=int(fields["family"]),
                    addresses=[str(a) for a in fields["addresses"]],
                    error=_error_of(fields),
                )
            )
            return
        number = int(fields["connection"])
        if op in ("connect_tcp", "connect_unix_socket"):
            if number != len(self.connections) + 1:
                raise ValueError(f"connection {number} opened out of order")
            self.connections.append(_connection_of(fields))
            return
        if not 1 <= number <= len(self.connections):
            raise ValueError(f"event of connection {number}, which was not opened before")
        self.connections[number - 1].events.append(_event_of(fields))


# -- encoding helpers -----------------------------------------------------------------


def _line(fields: dict[str, typing.Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def _parse(lineno: int, line: str) -> dict[str, typing.Any]:
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise CassetteFormatError(f"line {lineno}: not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise CassetteFormatError(f"line {lineno}: not a JSON object")
    return value


def _is_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.replace("\r", "").replace("\n", "").replace("\t", "").isprintable():
        return text
    return None


def _bytes_fields(data: bytes) -> dict[str, str]:
    text = _is_text(data)
    if text is not None:
        return {"text": text}
    return {"base64": base64.b64encode(data).decode("ascii")}


def _bytes_of(fields: dict[str, typing.Any]) -> bytes:
    if "base64" in fields:
        return base64.b64decode(fields["base64"], validate=True)
    return str(fields.get("text", "")).encode("utf-8")


def _with_error(
    fields: dict[str, typing.Any], error: RecordedError | None
) -> dict[str, typing.Any]:
    if error is not None:
        fields["error"] = {"type": error.type, "message": error.message}
    return fields


def _error_of(fields: dict[str, typing.Any]) -> RecordedError | None:
    error = fields.get("error")
    if error is None:
        return None
    return RecordedError(str(error["type"]), str(error["message"]))


def _jsonable(value: typing.Any) -> typing.Any:
    """Tuples to lists and bytes to ``{"base64": ...}``, recursively."""
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value


def _native(value: typing.Any) -> typing.Any:
    """The inverse of :func:`_jsonable`: lists back to tuples, as ``ssl`` returns them."""
    if isinstance(value, list):
        return tuple(_native(item) for item in value)
    if isinstance(value, dict):
        if set(value) == {"base64"}:
            return base64.b64decode(value["base64"], validate=True)
        return {key: _native(item) for key, item in value.items()}
    return value


def _connection_fields(connection: RecordedConnection) -> dict[str, typing.Any]:
    fields: dict[str, typing.Any]
    if connection.kind == "tcp":
        fields = {
            "op": "connect_tcp",
            "host": connection.host,
            "port": connection.port,
            "local_address": connection.local_address,
        }
    else:
        fields = {"op": "connect_unix_socket", "path": connection.path}
    fields["socket_options"] = _jsonable(connection.socket_options)
    if connection.error is None:
        fields["client_addr"] = _jsonable(connection.client_addr)
        fields["server_addr"] = _jsonable(connection.server_addr)
    return _with_error(fields, connection.error)


def _connection_of(fields: dict[str, typing.Any]) -> RecordedConnection:
    options = _native(fields.get("socket_options"))
    common: dict[str, typing.Any] = {
        "socket_options": options,
        "client_addr": _native(fields.get("client_addr")),
        "server_addr": _native(fields.get("server_addr")),
        "error": _error_of(fields),
    }
    if fields["op"] == "connect_tcp":
        return RecordedConnection(
            "tcp",
            host=str(fields["host"]),
            port=int(fields["port"]),
            local_address=fields.get("local_address"),
            **common,
        )
    return RecordedConnection("unix", path=str(fields["path"]), **common)


def _event_fields(event: Event) -> dict[str, typing.Any]:
    fields: dict[str, typing.Any] = {"op": event.op}
    if event.op in ("write", "read") and (event.data or event.error is None):
        fields.update(_bytes_fields(event.data))
    elif event.op == "is_readable":
        fields["value"] = event.readable
    elif event.op == "start_tls":
        tls = event.tls or TLSInfo(None)
        fields["server_hostname"] = tls.server_hostname
        if tls.error is None:
            fields["alpn"] = tls.alpn
            fields["version"] = tls.version
            fields["cipher"] = _jsonable(tls.cipher)
            fields["peercert"] = _jsonable(tls.peercert)
            der = tls.peercert_der
            fields["peercert_der"] = None if der is None else base64.b64encode(der).decode("ascii")
        return _with_error(fields, tls.error)
    return _with_error(fields, event.error)


def _event_of(fields: dict[str, typing.Any]) -> Event:
    op = fields["op"]
    if op not in _EVENT_OPS:
        raise ValueError(f"unknown op {op!r}")
    if op == "start_tls":
        der = fields.get("peercert_der")
        cipher = _native(fields.get("cipher"))
        tls = TLSInfo(
            server_hostname=fields.get("server_hostname"),
            alpn=fields.get("alpn"),
            version=fields.get("version"),
            cipher=cipher,
            peercert=_native(fields.get("peercert")),
            peercert_der=None if der is None else base64.b64decode(der, validate=True),
            error=_error_of(fields),
        )
        return Event("start_tls", tls=tls)
    return Event(
        op,
        data=_bytes_of(fields),
        readable=bool(fields.get("value", False)),
        error=_error_of(fields),
    )
