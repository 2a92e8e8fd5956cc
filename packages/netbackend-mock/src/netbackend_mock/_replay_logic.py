"""How a replay backend serves a cassette back, and spots a diverging conversation.

No I/O: shared by the blocking and async replay backends, which only wait (with their
own kind of sleep) when :meth:`ReplayConnectionLogic.read` says :data:`WAIT`.

The model
---------
Each recorded connection is cut by its ``start_tls`` events into *phases*: the
plaintext before the first handshake, then what follows each handshake. A phase holds

* ``client``: every byte the client wrote in it, joined. Replay compares what the code
  under test writes against this as one byte stream, so the chunking of writes does not
  matter;
* ``reads``: the server side in order: each read's bytes (with the read boundaries of
  the recording, split further when the code asks for fewer bytes), EOF, recorded read
  errors and ``is_readable`` answers. Each carries a *gate*: how many of the phase's
  client bytes had been written when it happened. A read whose gate the client has not
  reached yet waits, as a real server would not have answered bytes it had not
  received; if the bytes never come, the wait ends in :class:`ReplayMismatch`.

A ``start_tls`` must come where the recording had one: after every client byte of the
phase was written and every server byte read, with the same ``server_hostname``.
"""

from __future__ import annotations

import dataclasses
import threading
import typing
from collections.abc import Iterator

from netbackend_base import ConnectError, ReadError, WriteError

from ._cassette import Cassette, RecordedConnection, RecordedError, TLSInfo

__all__ = (
    "WAIT",
    "ReplayConnectionLogic",
    "ReplayCore",
    "ReplayMismatch",
    "ReplaySSLObject",
    "wait_pauses",
)

# How long a read waits for the client bytes its recorded reply came after, when it
# has no timeout of its own (and at most, when it has one).
DEFAULT_WAIT_LIMIT = 1.0
_FIRST_POLL = 0.001
_MAX_POLL = 0.05
# Bytes shown around a mismatch.
_BEFORE = 32
_AFTER = 64


class ReplayMismatch(AssertionError):
    """The code under test did not have the recorded conversation.

    Raised by a replay backend's calls when the code connects somewhere the cassette
    has no (more) connections to, writes bytes other than the recorded ones, reads past
    what the server sent, starts TLS elsewhere or for another host, or (with
    ``strict=True``, or from ``assert_all_played()``) leaves recorded traffic unplayed.

    This is an ``AssertionError``, not a network error, on purpose (like
    :class:`~netbackend_mock.StallLimitExceeded`): code that handles or retries
    network errors lets it through, and the test fails saying where the conversation
    went another way.
    """


WAIT: typing.Final = object()
"""What :meth:`ReplayConnectionLogic.read` returns when the read must wait for writes."""


def wait_pauses(timeout: float | None, wait_limit: float) -> Iterator[float]:
    """The sleeps of one wait: 1 ms doubling to 50 ms, in all ``min(timeout, limit)``."""
    limit = wait_limit if timeout is None else min(timeout, wait_limit)
    waited, pause = 0.0, _FIRST_POLL
    while waited < limit:
        step = min(pause, limit - waited)
        yield step
        waited += step
        pause = min(pause * 2, _MAX_POLL)


def _excerpt(data: bytes, start: int, end: int) -> str:
    piece = repr(data[max(start, 0) : end])
    return ("..." if start > 0 else "") + piece + ("..." if end < len(data) else "")


class ReplaySSLObject:
    """Stands in for ``ssl.SSLObject`` on a replayed TLS stream: answers what the recorded
    handshake negotiated.
    """

    def __init__(self, tls: TLSInfo) -> None:
        self._tls = tls
        self.server_hostname = tls.server_hostname
        self.server_side = False

    def selected_alpn_protocol(self) -> str | None:
        return self._tls.alpn

    def version(self) -> str | None:
        return self._tls.version

    def cipher(self) -> tuple[str, str, int] | None:
        return self._tls.cipher

    def compression(self) -> None:
        return None

    def getpeercert(self, binary_form: bool = False) -> typing.Any:
        if binary_form:
            return self._tls.peercert_der
        return self._tls.peercert

    def __repr__(self) -> str:
        return f"<ReplaySSLObject {self._tls.version} alpn={self._tls.alpn!r}>"


@dataclasses.dataclass
class _Read:
    gate: int
    kind: typing.Literal["data", "eof", "error", "is_readable"]
    data: bytes = b""
    readable: bool = False
    error: RecordedError | None = None


@dataclasses.dataclass
class _Phase:
    tls: TLSInfo | None
    client: bytearray = dataclasses.field(default_factory=bytearray)
    write_errors: list[tuple[int, RecordedError]] = dataclasses.field(default_factory=list)
    reads: list[_Read] = dataclasses.field(default_factory=list)

    @property
    def server_bytes(self) -> int:
        return sum(len(r.data) for r in self.reads)


def _phases(record: RecordedConnection) -> list[_Phase]:
    phases = [_Phase(None)]
    for event in record.events:
        phase = phases[-1]
        if event.op == "write":
            phase.client += event.data
            if event.error is not None:
                phase.write_errors.append((len(phase.client), event.error))
        elif event.op == "read" and event.error is not None:
            phase.reads.append(_Read(len(phase.client), "error", error=event.error))
        elif event.op == "read":
            phase.reads.append(_Read(len(phase.client), "data", data=event.data))
        elif event.op == "eof":
            phase.reads.append(_Read(len(phase.client), "eof"))
        elif event.op == "is_readable":
            phase.reads.append(_Read(len(phase.client), "is_readable", readable=event.readable))
        elif event.op == "start_tls":
            phases.append(_Phase(event.tls or TLSInfo(None)))
    return phases


class ReplayConnectionLogic:
    """The replay of one recorded connection: cursors over its phases.

    One reader and one writer may use it at once (threads or tasks): each call runs to
    completion under a lock.
    """

    def __init__(
        self, record: RecordedConnection, number: int, recorded_number: int, strict: bool
    ) -> None:
        self.record = record
        self.number = number
        """This connection's number, from 1, in the order the replay opened them."""
        self.recorded_number = recorded_number
        """The number of the recorded connection it replays."""
        self._strict = strict
        self._phases = _phases(record)
        self._phase = 0
        self._written = 0  # client bytes of the current phase matched so far
        self._read_index = 0  # next entry of the current phase's reads
        self._read_offset = 0  # bytes of that entry already served
        self._eof = False
        self._closed = False
        self._lock = threading.Lock()

    # -- what the streams show --------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def tls(self) -> TLSInfo | None:
        """The recorded handshake in effect (``None`` before ``start_tls``)."""
        return self._phases[self._phase].tls

    def _where(self) -> str:
        where = f"connection {self.number} ({self.record.describe()}"
        if self.recorded_number != self.number:
            where += f", recorded as connection {self.recorded_number}"
        where += ")"
        if self._phase:
            where += f" after start_tls #{self._phase}"
        return where

    def is_readable(self) -> bool:
        """What the recording says ``get_extra_info("is_readable")`` answers now."""
        with self._lock:
            reads = self._phases[self._phase].reads
            index = self._read_index
            if index < len(reads) and reads[index].gate <= self._written:
                entry = reads[index]
                if entry.kind != "is_readable":
                    return True  # server bytes (or EOF, or an error) are waiting
                # A recorded answer: step over it only when another one follows, so that
                # polls walk through the recorded answers and the last one sticks.
                following = reads[index + 1] if index + 1 < len(reads) else None
                if (
                    following
                    and following.kind == "is_readable"
                    and following.gate <= self._written
                ):
                    self._read_index += 1
                return entry.readable
            return self._eof

    # -- the calls ----------------------------------------------------------------------

    def read(self, max_bytes: int) -> bytes | object:
        """Bytes for a read of at most ``max_bytes``, ``b""`` at EOF, or :data:`WAIT`.

        Raises:
            ReplayMismatch: The recording has nothing more to read here.
            ReadError: The stream is closed, or the recorded read failed so.
        """
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        with self._lock:
            if self._closed:
                raise ReadError("read on a closed replay stream")
            phase = self._phases[self._phase]
            while (
                self._read_index < len(phase.reads)
                and phase.reads[self._read_index].kind == "is_readable"
            ):
                self._read_index += 1
            if self._read_index == len(phase.reads):
                if self._eof:
                    return b""
                raise ReplayMismatch(
                    f"{self._where()}: read after all {phase.server_bytes} recorded server "
                    f"bytes{self._phase_end(phase)}, and the recording reads nothing more "
                    f"here: the server would not have sent anything"
                    f"{self._pending_writes(phase)}"
                )
            entry = phase.reads[self._read_index]
            if entry.gate > self._written:
                return WAIT
            if entry.kind == "eof":
                self._read_index += 1
                self._eof = True
                return b""
            if entry.kind == "error":
                self._read_index += 1
                assert entry.error is not None
                raise entry.error.exception()
            start = self._read_offset
            chunk = entry.data[start : start + max_bytes]
            if start + len(chunk) >= len(entry.data):
                self._read_index += 1
                self._read_offset = 0
            else:
                self._read_offset += len(chunk)
            return chunk

    def wait_failed(self, waited: float) -> ReplayMismatch:
        """The mismatch to raise when a read waited ``waited`` seconds in vain."""
        with self._lock:
            phase = self._phases[self._phase]
            gate = phase.reads[self._read_index].gate if self._read_index < len(phase.reads) else 0
            return ReplayMismatch(
                f"{self._where()}: a read waited {waited:.3g} s for the client to write "
                f"bytes {self._written}..{gate} of the recording, which the recorded server "
                f"reply came after; the client has written only {self._written}. "
                f"Next expected client bytes: "
                f"{_excerpt(bytes(phase.client), self._written, min(gate, self._written + _AFTER))}"
            )

    def write(self, buffer: bytes) -> None:
        """Match written bytes against the recording.

        Raises:
            ReplayMismatch: The bytes differ from (or go past) the recorded ones.
            WriteError: The stream is closed, or the recorded write failed here.
        """
        with self._lock:
            if self._closed:
                raise WriteError("write on a closed replay stream")
            if not buffer:
                return
            phase = self._phases[self._phase]
            start = self._written
            expected = bytes(phase.client[start : start + len(buffer)])
            actual = bytes(buffer)
            if actual != expected:
                raise self._write_mismatch(phase, actual, expected)
            self._written += len(actual)
            for end, error in phase.write_errors:
                if start < end <= self._written:
                    raise error.exception()

    def _write_mismatch(self, phase: _Phase, actual: bytes, expected: bytes) -> ReplayMismatch:
        start = self._written
        common = next(
            (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
            min(len(actual), len(expected)),
        )
        offset = start + common
        recorded = bytes(phase.client)
        written = recorded[:start] + actual
        if common == len(expected):
            what = (
                f"wrote {len(actual) - len(expected)} bytes past the end of the "
                f"{len(recorded)} recorded client bytes{self._phase_end(phase)}"
            )
        else:
            what = "wrote other bytes than the recording"
        return ReplayMismatch(
            f"{self._where()}: {what}, at byte {offset}:\n"
            f"  expected: {_excerpt(recorded, offset - _BEFORE, offset + _AFTER)}\n"
            f"  actual:   {_excerpt(written, offset - _BEFORE, offset + _AFTER)}"
        )

    def _phase_end(self, phase: _Phase) -> str:
        if self._phase + 1 < len(self._phases):
            return " before the recording's next start_tls"
        if self.record.events and self.record.events[-1].op == "close":
            return " before the recording closes"
        return ""

    def _pending_writes(self, phase: _Phase) -> str:
        left = len(phase.client) - self._written
        if left <= 0:
            return ""
        return (
            f" (and {left} recorded client bytes are still to be written: "
            f"{_excerpt(bytes(phase.client), self._written, self._written + _AFTER)})"
        )

    def start_tls(self, server_hostname: str | None) -> TLSInfo:
        """Move to the next phase, checking it is a recorded handshake for this host.

        Raises:
            ReplayMismatch: No handshake was recorded here, or for another host.
            ConnectError: The stream is closed, or the recorded handshake failed.
        """
        with self._lock:
            if self._closed:
                raise ConnectError("start_tls on a closed replay stream")
            phase = self._phases[self._phase]
            if self._phase + 1 == len(self._phases):
                raise ReplayMismatch(
                    f"{self._where()}: start_tls(server_hostname={server_hostname!r}), but "
                    f"the recording has no (more) TLS handshakes on this connection"
                )
            unread = sum(len(r.data) for r in phase.reads[self._read_index :]) - self._read_offset
            if self._written != len(phase.client) or unread:
                raise ReplayMismatch(
                    f"{self._where()}: start_tls after {self._written} of the "
                    f"{len(phase.client)} client bytes and with {unread} of the "
                    f"{phase.server_bytes} server bytes unread that the recording has before "
                    f"its handshake{self._pending_writes(phase)}"
                )
            tls = self._phases[self._phase + 1].tls
            assert tls is not None
            if tls.server_hostname != server_hostname:
                raise ReplayMismatch(
                    f"{self._where()}: start_tls(server_hostname={server_hostname!r}), but "
                    f"the recording's handshake was for server_hostname="
                    f"{tls.server_hostname!r}"
                )
            if tls.error is not None:
                self._closed = True
                raise tls.error.exception()
            self._phase += 1
            self._written = self._read_index = self._read_offset = 0
            return tls

    def close(self) -> None:
        """Mark the stream closed.

        Raises:
            ReplayMismatch: With ``strict=True``, recorded traffic was left unplayed
                (raised once; the stream is closed all the same).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._strict:
            left = self.unplayed()
            if left:
                raise ReplayMismatch(f"{self._where()} closed with {left}")

    def unplayed(self) -> str:
        """What of the recording was not replayed, or ``""`` if nothing that matters
        (EOF and ``is_readable`` answers need not be replayed)."""
        parts = []
        for index in range(self._phase, len(self._phases)):
            phase = self._phases[index]
            written = self._written if index == self._phase else 0
            reads = phase.reads[self._read_index :] if index == self._phase else phase.reads
            served = self._read_offset if index == self._phase else 0
            if index > self._phase:
                parts.append(f"start_tls #{index} not replayed")
            if written < len(phase.client):
                parts.append(f"{len(phase.client) - written} client bytes not written")
            unread = sum(len(r.data) for r in reads) - served
            if unread:
                parts.append(f"{unread} server bytes not read")
        return ", ".join(parts)


class ReplayCore:
    """The backend half: hands out recorded connections and answers ``resolve``.

    Args:
        cassette: What to replay.
        strict: Whether closing a stream with unplayed traffic raises.
        wait_limit: How long a read may wait for the bytes its reply came after.
    """

    def __init__(self, cassette: Cassette, strict: bool, wait_limit: float) -> None:
        self.cassette = cassette
        self.strict = strict
        self.wait_limit = wait_limit
        self._used = [False] * len(cassette.connections)
        self._lock = threading.Lock()
        self.connections: list[ReplayConnectionLogic] = []
        """The replayed connections, in the order they were opened."""

    def open(
        self,
        kind: typing.Literal["tcp", "unix"],
        host: str | None,
        port: int | None,
        path: str | None,
    ) -> ReplayConnectionLogic:
        """The first unused recorded connection to the same place.

        Raises:
            ReplayMismatch: There is none.
            ConnectError, ConnectTimeout: The recorded connect failed so.
        """
        wanted = RecordedConnection(kind, host=host, port=port, path=path)
        with self._lock:
            number = len(self.connections) + 1
            unused = [i for i, used in enumerate(self._used) if not used]
            for index in unused:
                record = self.cassette.connections[index]
                if (record.kind, record.host, record.port, record.path) == (kind, host, port, path):
                    break
            else:
                recorded = len(self.cassette.connections)
                if not unused:
                    raise ReplayMismatch(
                        f"connection {number}: {wanted.describe()}, but the cassette holds "
                        f"{recorded} connection{'s' if recorded != 1 else ''}, all replayed "
                        f"already"
                    )
                listed = ", ".join(
                    f"#{i + 1} {self.cassette.connections[i].describe()}" for i in unused[:5]
                )
                more = f" and {len(unused) - 5} more" if len(unused) > 5 else ""
                raise ReplayMismatch(
                    f"connection {number}: {wanted.describe()} matches no recorded connection "
                    f"left to replay; those left are {listed}{more}"
                )
            self._used[index] = True
            logic = ReplayConnectionLogic(record, number, index + 1, self.strict)
            self.connections.append(logic)
        if record.error is not None:
            logic._closed = True
            raise record.error.exception()
        return logic

    def resolve(self, host: str, family: int) -> list[str]:
        """The recorded answer for ``host`` and ``family`` (lookups may repeat).

        Raises:
            ReplayMismatch: The cassette has no such lookup.
        """
        for resolved in self.cassette.resolves:
            if resolved.host == host and resolved.family == family:
                if resolved.error is not None:
                    raise resolved.error.exception()
                return list(resolved.addresses)
        recorded = ", ".join(f"{r.host!r} (family {r.family})" for r in self.cassette.resolves)
        raise ReplayMismatch(
            f"resolve({host!r}, family={family}): not in the cassette "
            f"(recorded lookups: {recorded or 'none'})"
        )

    def unplayed(self) -> list[str]:
        """A line for each recorded connection not (fully) replayed."""
        lines = []
        with self._lock:
            replayed = {logic.recorded_number: logic for logic in self.connections}
            for index, record in enumerate(self.cassette.connections):
                logic = replayed.get(index + 1)
                if logic is None:
                    lines.append(
                        f"recorded connection {index + 1} ({record.describe()}) never opened"
                    )
                elif left := logic.unplayed():
                    lines.append(f"recorded connection {index + 1} ({record.describe()}): {left}")
        return lines

    def assert_all_played(self) -> None:
        """Raise :class:`ReplayMismatch` listing what was not replayed, if anything."""
        lines = self.unplayed()
        if lines:
            raise ReplayMismatch("not all of the cassette was replayed:\n  " + "\n  ".join(lines))
