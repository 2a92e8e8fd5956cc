"""The sans-IO decisions of a faulty connection: steps, offsets, events. No I/O at all."""

from __future__ import annotations

import typing

import pytest

from netbackend_base import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)
from netbackend_mock import ConnectionFaults, FaultEvent, Faults, StallLimitExceeded
from netbackend_mock._fault_logic import BackendCore, ConnectionLogic, Step


def logic(**faults: typing.Any) -> ConnectionLogic:
    """Connection 3 with these faults and a stall limit of 2 s."""
    return ConnectionLogic(3, ConnectionFaults(**faults), stall_limit=2.0)


def test_no_faults_passes_calls_through() -> None:
    """Without faults every step passes the call on unchanged."""
    conn = logic()
    assert conn.plan_connect(5.0) == Step("connect", timeout=5.0)
    assert conn.plan_tls(None) == Step("start_tls")
    assert conn.plan_read(100, 1.0) == Step("read", timeout=1.0, size=100)
    assert conn.plan_write(10, None) == Step("write", pieces=((0, 10),))


def test_latency_leaves_the_rest_of_the_timeout() -> None:
    """A latency shorter than the timeout is slept first; the inner call gets the rest."""
    conn = logic(connect_latency=0.25, read_latency=0.5, write_latency=1.0)
    assert conn.plan_connect(2.0) == Step("connect", 0.25, 1.75)
    assert conn.plan_read(10, None) == Step("read", 0.5, None, size=10)
    assert conn.plan_write(4, 3.0) == Step("write", 1.0, 2.0, pieces=((0, 4),))


@pytest.mark.parametrize("latency", [1.0, 5.0])
def test_latency_reaching_the_timeout_times_out(latency: float) -> None:
    """A latency at or past the timeout sleeps exactly the timeout, then times out."""
    conn = logic(connect_latency=latency, read_latency=latency, write_latency=latency)
    assert conn.plan_connect(1.0) == Step("connect", 1.0, 1.0, fault="timeout")
    assert conn.plan_read(10, 1.0) == Step("read", 1.0, 1.0, fault="timeout")
    assert conn.plan_write(10, 1.0) == Step("write", 1.0, 1.0, fault="timeout")
    assert isinstance(conn.failure(conn.plan_connect(1.0)), ConnectTimeout)
    assert isinstance(conn.failure(conn.plan_read(1, 1.0)), ReadTimeout)
    assert isinstance(conn.failure(conn.plan_write(1, 1.0)), WriteTimeout)


def test_zero_timeout_without_latency_is_passed_on() -> None:
    """A timeout of 0 with no latency is the inner backend's business."""
    assert logic().plan_read(10, 0.0) == Step("read", timeout=0.0, size=10)


def test_refuse() -> None:
    """A refused connect fails with ConnectError after its latency."""
    conn = logic(refuse=True, connect_latency=0.5)
    step = conn.plan_connect(None)
    assert step == Step("connect", 0.5, None, fault="refuse")
    error = conn.failure(step)
    assert type(error) is ConnectError
    assert "refused" in str(error)
    assert conn.events == [FaultEvent(3, "connect", "refuse")]


def test_tls_failure_names_the_injected_fault() -> None:
    """start_tls fails with a ConnectError saying the failure was injected."""
    conn = logic(fail_tls=True)
    error = conn.failure(conn.plan_tls(1.0))
    assert type(error) is ConnectError
    assert str(error) == "TLS handshake of connection 3 failed (injected fault)"


def test_reads_stop_exactly_at_the_reset_offset() -> None:
    """Reads never ask for bytes past the offset; the read at the offset resets."""
    conn = logic(reset_after_read=10)
    assert conn.plan_read(100, None).size == 10
    conn.did_read(7)
    assert conn.plan_read(100, None).size == 3
    conn.did_read(3)
    step = conn.plan_read(100, None)
    assert step.fault == "reset"
    error = conn.failure(step)
    assert type(error) is ReadError
    assert str(error) == "connection 3 reset after 10 bytes read (injected fault)"
    assert conn.reset
    assert conn.events == [FaultEvent(3, "read", "reset", 10)]


def test_a_reset_kills_both_directions_for_good() -> None:
    """After a reset, reads and non-empty writes fail at once, without latency."""
    conn = logic(reset_after_read=0, read_latency=1.0, write_latency=1.0)
    conn.failure(conn.plan_read(5, None))
    assert conn.plan_read(5, None) == Step("read", fault="reset")
    assert conn.plan_write(5, None) == Step("write", fault="reset")
    assert type(conn.failure(conn.plan_write(5, None))) is WriteError
    assert type(conn.failure(conn.plan_read(5, None))) is ReadError
    assert conn.plan_write(0, None).fault is None  # an empty write stays a no-op


def test_write_past_the_reset_offset_sends_the_bytes_before_it() -> None:
    """A write crossing the offset passes on the bytes up to it, then resets."""
    conn = logic(reset_after_write=6)
    assert conn.plan_write(4, None) == Step("write", pieces=((0, 4),))
    conn.did_write(4)
    assert conn.plan_write(5, None) == Step("write", pieces=((0, 2),), fault="reset")
    conn.did_write(2)
    assert conn.plan_write(5, None) == Step("write", fault="reset")


def test_short_reads_and_writes() -> None:
    """max_read_bytes caps each read; max_write_bytes splits each write."""
    conn = logic(max_read_bytes=3, max_write_bytes=4)
    assert conn.plan_read(2, None).size == 2
    assert conn.plan_read(100, None).size == 3
    assert conn.plan_write(10, 1.0).pieces == ((0, 4), (4, 8), (8, 10))


def test_short_writes_stop_at_the_offset() -> None:
    """Split writes end at the reset offset."""
    conn = logic(max_write_bytes=4, reset_after_write=6)
    assert conn.plan_write(10, None) == Step("write", pieces=((0, 4), (4, 6)), fault="reset")


def test_the_earlier_of_reset_and_stall_wins() -> None:
    """With both a reset and a stall offset on one side, the earlier fires."""
    conn = logic(reset_after_read=8, stall_after_read=5, stall_after_write=2, reset_after_write=9)
    assert conn.plan_read(100, None).size == 5
    conn.did_read(5)
    assert conn.plan_read(100, None).fault == "stall"
    assert conn.plan_write(4, None) == Step("write", pieces=((0, 2),), fault="stall")


@pytest.mark.parametrize(
    ("timeout", "closed", "expected"),
    [
        (0.5, False, ReadTimeout),
        (None, True, ReadError),
        (None, False, StallLimitExceeded),
    ],
)
def test_how_a_stall_ends(timeout: float | None, closed: bool, expected: type) -> None:
    """A stall ends in a timeout, a ReadError once closed, or the stall limit."""
    conn = logic(stall_after_read=0)
    step = conn.plan_read(10, timeout)
    assert step.fault == "stall"
    if closed:
        conn.close()
    assert type(conn.failure(step)) is expected
    assert conn.events == [FaultEvent(3, "read", "stall", 0)]


def test_stall_pauses() -> None:
    """With a timeout a stall is one sleep; without, short sleeps up to the limit."""
    conn = logic()
    assert list(conn.stall_pauses(0.5)) == [0.5]
    assert list(conn.stall_pauses(0.0)) == []
    pauses = list(conn.stall_pauses(None))
    assert pauses[:3] == [0.001, 0.002, 0.004]
    assert max(pauses) == 0.1
    assert sum(pauses) == pytest.approx(2.0)


def test_stall_limit_message_says_what_would_have_happened() -> None:
    """The StallLimitExceeded message names the call, the connection and the limit."""
    conn = logic(stall_after_write=0)
    message = str(conn.failure(conn.plan_write(3, None)))
    assert "write on connection 3" in message
    assert "stall_limit=2.0" in message


def test_max_bytes_below_one_passes_through() -> None:
    """read(0) goes to the inner stream as it is (which raises ValueError)."""
    assert logic(max_read_bytes=3).plan_read(0, None) == Step("read", size=0)


def test_backend_core_numbers_connections_and_records() -> None:
    """Attempts are numbered from 1; faults and events are kept in order."""
    plan = Faults(schedule={2: ConnectionFaults(refuse=True)})
    core = BackendCore(plan)
    first, second = core._next_connection(), core._next_connection()
    assert (first.number, second.number) == (1, 2)
    assert core.connection_faults == [ConnectionFaults(), ConnectionFaults(refuse=True)]
    second.failure(second.plan_connect(None))
    assert core.events == [FaultEvent(2, "connect", "refuse")]
    assert BackendCore(None).plan == Faults()
