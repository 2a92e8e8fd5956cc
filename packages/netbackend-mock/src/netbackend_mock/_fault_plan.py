"""Fault plans: which faults each connection of a :class:`FaultyBackend` gets; and
:class:`FaultEvent`, the record of a fault that fired.

A plan is data, fixed once built. It answers one question, "what faults does connection
number ``n`` get?", with a :class:`ConnectionFaults`, and it answers it the same way
every time: from an explicit schedule, or from a seeded draw that depends only on the
seed, the rates and ``n``. How those faults play out call by call is decided in
:mod:`netbackend_mock._fault_logic`.

Connections are numbered from 1 in the order ``connect_tcp``/``connect_unix_socket`` is
called on the backend, refused and timed-out attempts included.
"""

from __future__ import annotations

import dataclasses
import random
import types
import typing
from collections.abc import Mapping

__all__ = (
    "ConnectionFaults",
    "FaultEvent",
    "FaultRates",
    "Faults",
)

FaultKind = typing.Literal["refuse", "timeout", "tls_failure", "reset", "stall"]
"""What went wrong in a :class:`FaultEvent`."""

Call = typing.Literal["connect", "start_tls", "read", "write"]
"""The stream or backend call a fault hit."""


def _check_offset(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{name} must be at least 0, not {value}")


def _check_size(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


def _check_seconds(name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be at least 0, not {value}")


@dataclasses.dataclass(frozen=True, repr=False)
class ConnectionFaults:
    """The faults of one connection. The defaults inject nothing.

    Byte counts are of what the caller reads or writes through the faulty stream (after
    ``start_tls``, plaintext), counted from the start of the connection.

    Attributes:
        refuse: ``connect_*`` raises ``ConnectError`` (after ``connect_latency``).
        connect_latency: Seconds to wait before connecting. When it reaches the
            connect ``timeout``, the connect waits ``timeout`` seconds and raises
            ``ConnectTimeout`` (a slow connect); otherwise the inner connect gets what
            is left of the timeout.
        fail_tls: ``start_tls`` raises ``ConnectError`` without a handshake and closes
            the stream, as a failed handshake does.
        read_latency: Seconds to wait before each read; as for connects, reaching the
            read ``timeout`` raises ``ReadTimeout`` after waiting ``timeout``.
        write_latency: Seconds to wait before each non-empty write; likewise
            ``WriteTimeout``.
        reset_after_read: Deliver this many bytes, then reset the connection: the read
            that would return the next byte raises ``ReadError``.
        reset_after_write: Pass this many bytes on, then reset the connection: the write
            that would go past them passes on the bytes up to the limit and raises
            ``WriteError``.
        stall_after_read: Deliver this many bytes, then every read stalls: it waits out
            its timeout and raises ``ReadTimeout`` (see :attr:`Faults.stall_limit` for
            reads without a timeout).
        stall_after_write: Pass this many bytes on, then stall writes (``WriteTimeout``).
        max_read_bytes: Short reads: a read returns at most this many bytes.
        max_write_bytes: Short writes: a write reaches the inner stream as writes of at
            most this many bytes each.

    Once a connection is reset, every later read raises ``ReadError`` and every
    later non-empty write ``WriteError``, whichever side the reset came from.
    """

    refuse: bool = False
    connect_latency: float = 0.0
    fail_tls: bool = False
    read_latency: float = 0.0
    write_latency: float = 0.0
    reset_after_read: int | None = None
    reset_after_write: int | None = None
    stall_after_read: int | None = None
    stall_after_write: int | None = None
    max_read_bytes: int | None = None
    max_write_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_seconds("connect_latency", self.connect_latency)
        _check_seconds("read_latency", self.read_latency)
        _check_seconds("write_latency", self.write_latency)
        _check_offset("reset_after_read", self.reset_after_read)
        _check_offset("reset_after_write", self.reset_after_write)
        _check_offset("stall_after_read", self.stall_after_read)
        _check_offset("stall_after_write", self.stall_after_write)
        _check_size("max_read_bytes", self.max_read_bytes)
        _check_size("max_write_bytes", self.max_write_bytes)

    def __repr__(self) -> str:
        # Only what differs from the defaults: a drawn plan stays readable.
        changed = (
            f"{field.name}={getattr(self, field.name)!r}"
            for field in dataclasses.fields(self)
            if getattr(self, field.name) != field.default
        )
        return f"ConnectionFaults({', '.join(changed)})"


_NO_FAULTS = ConnectionFaults()


@dataclasses.dataclass(frozen=True)
class FaultRates:
    """For seeded plans: the chance of each fault per connection, and parameter ranges.

    Each probability is drawn once per connection, independently of the others.

    Attributes:
        refuse: Chance that the connect is refused.
        slow_connect: Chance that the connect takes ``slow_connect_delay`` seconds (a
            ``ConnectTimeout`` when that reaches the connect timeout).
        tls_failure: Chance that ``start_tls`` fails.
        reset_read: Chance of a reset after a number of bytes read drawn from
            ``0..max_offset``.
        reset_write: The same for bytes written.
        stall_read: Chance that reads stall after a number of bytes drawn from
            ``0..max_offset``.
        stall_write: The same for writes.
        short_reads: Chance of short reads of at most ``1..max_piece`` bytes (drawn).
        short_writes: Chance of short writes of at most ``1..max_piece`` bytes (drawn).
        latency: Chance of latencies before the connect, each read and each write,
            each drawn from ``0..max_latency`` seconds.
        max_offset: The largest byte offset drawn for resets and stalls.
        max_piece: The largest size drawn for short reads and writes.
        max_latency: The largest latency drawn, in seconds.
        slow_connect_delay: How long a slow connect takes, in seconds; set it above the
            connect timeout of the code under test.
    """

    refuse: float = 0.0
    slow_connect: float = 0.0
    tls_failure: float = 0.0
    reset_read: float = 0.0
    reset_write: float = 0.0
    stall_read: float = 0.0
    stall_write: float = 0.0
    short_reads: float = 0.0
    short_writes: float = 0.0
    latency: float = 0.0
    max_offset: int = 1024
    max_piece: int = 16
    max_latency: float = 0.01
    slow_connect_delay: float = 1.0

    def __post_init__(self) -> None:
        for name in _CHANCES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability, between 0 and 1, not {value}")
        _check_offset("max_offset", self.max_offset)
        _check_size("max_piece", self.max_piece)
        _check_seconds("max_latency", self.max_latency)
        _check_seconds("slow_connect_delay", self.slow_connect_delay)

    def draw(self, rng: random.Random) -> dict[str, typing.Any]:
        """Draw one connection's faults: the :class:`ConnectionFaults` fields to set.

        Only ``rng.random()`` is used (the one method whose sequence Python promises to
        keep across versions), and every kind draws its roll and its parameters whether
        or not it hits, so raising one probability never changes what the others draw.
        """

        def offset() -> int:
            return int(rng.random() * (self.max_offset + 1))

        def piece() -> int:
            return 1 + int(rng.random() * self.max_piece)

        def latency() -> float:
            return rng.random() * self.max_latency

        drawn: dict[str, typing.Any] = {}
        if rng.random() < self.refuse:
            drawn["refuse"] = True
        latencies = (rng.random() < self.latency, latency(), latency(), latency())
        if latencies[0]:
            drawn.update(
                connect_latency=latencies[1], read_latency=latencies[2], write_latency=latencies[3]
            )
        if rng.random() < self.slow_connect:
            drawn["connect_latency"] = self.slow_connect_delay
        if rng.random() < self.tls_failure:
            drawn["fail_tls"] = True
        for chance, field, value in (
            (self.reset_read, "reset_after_read", offset),
            (self.reset_write, "reset_after_write", offset),
            (self.stall_read, "stall_after_read", offset),
            (self.stall_write, "stall_after_write", offset),
            (self.short_reads, "max_read_bytes", piece),
            (self.short_writes, "max_write_bytes", piece),
        ):
            hit, drawn_value = rng.random() < chance, value()
            if hit:
                drawn[field] = drawn_value
        return drawn


_CHANCES = (
    "refuse",
    "slow_connect",
    "tls_failure",
    "reset_read",
    "reset_write",
    "stall_read",
    "stall_write",
    "short_reads",
    "short_writes",
    "latency",
)


@dataclasses.dataclass(frozen=True)
class Faults:
    """A fault plan: the faults of every connection a faulty backend opens.

    Connection ``n`` (numbered from 1, in connect order) gets, in this order of
    precedence:

    1. ``schedule[n]``, when the schedule names it;
    2. with ``rates``, ``default`` with the faults drawn for ``n`` from ``seed`` put
       over it (the draw depends only on ``seed``, ``rates`` and ``n``: the same seed
       gives every connection the same faults on every run, however the connections
       interleave);
    3. otherwise ``default``.

    Attributes:
        schedule: Explicit faults by connection number.
        default: The faults of connections the schedule does not name.
        seed: The seed of the random draws; required with ``rates``.
        rates: The probabilities of the random draws; ``None`` draws nothing.
        stall_limit: How long, in seconds, a stalled call with no timeout waits for
            the stream to be closed before it gives up with
            :class:`~netbackend_mock.StallLimitExceeded` (the code under test would
            have hung for ever). Measured in the sleeps of the wrapped backend.

    Example: ``Faults(schedule={2: ConnectionFaults(reset_after_read=100)})`` resets
    the second connection after 100 bytes read; ``Faults(seed=7,
    rates=FaultRates(refuse=0.1))`` refuses about one connection in ten, the same ones
    on every run.
    """

    schedule: Mapping[int, ConnectionFaults] = dataclasses.field(default_factory=dict)
    default: ConnectionFaults = _NO_FAULTS
    seed: int | None = None
    rates: FaultRates | None = None
    stall_limit: float = 10.0

    def __post_init__(self) -> None:
        schedule = dict(sorted(self.schedule.items()))
        for number, faults in schedule.items():
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise ValueError(f"connections are numbered from 1: bad schedule key {number!r}")
            if not isinstance(faults, ConnectionFaults):
                raise TypeError(
                    f"schedule[{number}] must be a ConnectionFaults, not {type(faults).__name__}"
                )
        # Frozen: the dataclass already refuses assignment; the mapping must not change
        # under it either.
        object.__setattr__(self, "schedule", types.MappingProxyType(schedule))
        if (self.rates is None) != (self.seed is None):
            raise ValueError("random faults need both a seed and rates")
        if not self.stall_limit > 0:
            raise ValueError(f"stall_limit must be above 0, not {self.stall_limit}")

    def __hash__(self) -> int:
        return hash(
            (tuple(self.schedule.items()), self.default, self.seed, self.rates, self.stall_limit)
        )

    def for_connection(self, number: int) -> ConnectionFaults:
        """The faults of connection ``number`` (from 1); the same on every call."""
        scheduled = self.schedule.get(number)
        if scheduled is not None:
            return scheduled
        if self.rates is None:
            return self.default
        # A string seed is hashed with SHA-512, the same in every process and version.
        drawn = self.rates.draw(random.Random(f"netbackend-mock/{self.seed}/{number}"))
        return dataclasses.replace(self.default, **drawn) if drawn else self.default


@dataclasses.dataclass(frozen=True)
class FaultEvent:
    """A call that an injected fault made fail.

    Attributes:
        connection: The connection's number (from 1).
        call: ``"connect"``, ``"start_tls"``, ``"read"`` or ``"write"``.
        kind: ``"refuse"``, ``"timeout"`` (latency reached the timeout),
            ``"tls_failure"``, ``"reset"`` or ``"stall"``.
        offset: For reads and writes, the bytes read or written on the connection
            before the fault; ``None`` for connects and ``start_tls``.
    """

    connection: int
    call: Call
    kind: FaultKind
    offset: int | None = None
