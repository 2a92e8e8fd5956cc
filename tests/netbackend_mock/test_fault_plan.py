"""Fault plans: schedules, seeded draws, validation. Pure data, no I/O."""

from __future__ import annotations

import dataclasses

import pytest

from netbackend_mock import ConnectionFaults, FaultRates, Faults

EVERY_KIND = FaultRates(
    refuse=1.0,
    slow_connect=1.0,
    tls_failure=1.0,
    reset_read=1.0,
    reset_write=1.0,
    stall_read=1.0,
    stall_write=1.0,
    short_reads=1.0,
    short_writes=1.0,
    latency=1.0,
)


def test_default_plan_injects_nothing() -> None:
    """Without a schedule or rates, every connection gets ConnectionFaults()."""
    plan = Faults()
    assert [plan.for_connection(n) for n in (1, 2, 99)] == [ConnectionFaults()] * 3


def test_schedule_names_connections_from_one() -> None:
    """schedule[n] applies to connection n only; the others get the default."""
    reset = ConnectionFaults(reset_after_read=100)
    plan = Faults(schedule={2: reset}, default=ConnectionFaults(max_read_bytes=3))
    assert plan.for_connection(1) == ConnectionFaults(max_read_bytes=3)
    assert plan.for_connection(2) is reset
    assert plan.for_connection(3) == ConnectionFaults(max_read_bytes=3)


def test_schedule_wins_over_random_draws() -> None:
    """A scheduled connection is not drawn, even with every rate at 1."""
    plan = Faults(schedule={1: ConnectionFaults()}, seed=1, rates=EVERY_KIND)
    assert plan.for_connection(1) == ConnectionFaults()
    assert plan.for_connection(2).refuse


def test_same_seed_same_faults() -> None:
    """Two plans with the same seed and rates draw the same faults for every connection."""
    rates = FaultRates(refuse=0.2, reset_read=0.3, short_reads=0.5, latency=0.5)
    first = [Faults(seed=42, rates=rates).for_connection(n) for n in range(1, 200)]
    second = [Faults(seed=42, rates=rates).for_connection(n) for n in range(1, 200)]
    other = [Faults(seed=43, rates=rates).for_connection(n) for n in range(1, 200)]
    assert first == second
    assert first != other
    # About the asked-for share of connections is refused.
    assert 20 <= sum(faults.refuse for faults in first) <= 60


def test_draws_are_pinned() -> None:
    """A seed's draws are fixed for good: the same on every run, platform and version."""
    plan = Faults(seed=7, rates=FaultRates(refuse=0.5, reset_read=0.5, max_offset=500))
    assert [plan.for_connection(n) for n in range(4, 9)] == [
        ConnectionFaults(refuse=True),
        ConnectionFaults(),
        ConnectionFaults(reset_after_read=58),
        ConnectionFaults(refuse=True),
        ConnectionFaults(refuse=True, reset_after_read=147),
    ]


def test_a_connections_draw_does_not_depend_on_the_others() -> None:
    """Connection n's faults are the same whether or not earlier ones were drawn."""
    plan = Faults(seed=5, rates=FaultRates(reset_read=0.5, stall_write=0.5))
    later = plan.for_connection(50)
    fresh = Faults(seed=5, rates=FaultRates(reset_read=0.5, stall_write=0.5))
    for n in range(1, 50):
        fresh.for_connection(n)
    assert fresh.for_connection(50) == later


def test_raising_one_rate_keeps_the_other_draws() -> None:
    """Every kind draws its roll and parameters whatever the others' rates are."""
    low = Faults(seed=9, rates=FaultRates(reset_read=0.5, refuse=0.0))
    high = Faults(seed=9, rates=FaultRates(reset_read=0.5, refuse=1.0))
    for n in range(1, 50):
        assert dataclasses.replace(high.for_connection(n), refuse=False) == low.for_connection(n)


def test_every_kind_with_rate_one() -> None:
    """At rate 1 every kind is drawn, with parameters inside their ranges."""
    rates = dataclasses.replace(EVERY_KIND, max_offset=10, max_piece=4, max_latency=0.5)
    for n in range(1, 30):
        faults = Faults(seed=n, rates=rates).for_connection(n)
        assert faults.refuse
        assert faults.fail_tls
        assert faults.connect_latency == rates.slow_connect_delay  # slow connect wins
        assert 0 <= faults.read_latency <= 0.5
        assert 0 <= faults.write_latency <= 0.5
        offsets = [
            faults.reset_after_read,
            faults.reset_after_write,
            faults.stall_after_read,
            faults.stall_after_write,
        ]
        assert all(offset is not None and 0 <= offset <= 10 for offset in offsets)
        pieces = [faults.max_read_bytes, faults.max_write_bytes]
        assert all(piece is not None and 1 <= piece <= 4 for piece in pieces)


def test_draws_go_over_the_default() -> None:
    """Drawn faults replace only their own fields of ``default``."""
    plan = Faults(
        default=ConnectionFaults(max_write_bytes=2, read_latency=0.5),
        seed=1,
        rates=FaultRates(reset_read=1.0),
    )
    faults = plan.for_connection(1)
    assert faults.max_write_bytes == 2
    assert faults.read_latency == 0.5
    assert faults.reset_after_read is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"connect_latency": -1.0},
        {"read_latency": float("nan")},
        {"reset_after_read": -1},
        {"stall_after_write": -5},
        {"max_read_bytes": 0},
        {"max_write_bytes": 0},
    ],
)
def test_connection_faults_validation(kwargs: dict[str, float]) -> None:
    """Negative latencies and offsets and sizes below 1 are refused."""
    with pytest.raises(ValueError):
        ConnectionFaults(**kwargs)  # type: ignore[arg-type]


def test_rates_validation() -> None:
    """Probabilities lie in [0, 1]; max_piece is at least 1."""
    with pytest.raises(ValueError, match="probability"):
        FaultRates(refuse=1.5)
    with pytest.raises(ValueError, match="max_piece"):
        FaultRates(max_piece=0)


def test_faults_validation() -> None:
    """Schedule keys start at 1; rates and seed come together; stall_limit is positive."""
    with pytest.raises(ValueError, match="numbered from 1"):
        Faults(schedule={0: ConnectionFaults()})
    with pytest.raises(TypeError, match="ConnectionFaults"):
        Faults(schedule={1: "reset"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="seed and rates"):
        Faults(rates=FaultRates())
    with pytest.raises(ValueError, match="seed and rates"):
        Faults(seed=1)
    with pytest.raises(ValueError, match="stall_limit"):
        Faults(stall_limit=0)


def test_plans_are_immutable() -> None:
    """Neither the plan nor its schedule can change once built, and the caller's dict
    is not shared."""
    given = {1: ConnectionFaults(refuse=True)}
    plan = Faults(schedule=given)
    given[2] = ConnectionFaults(refuse=True)
    assert plan.for_connection(2) == ConnectionFaults()
    with pytest.raises(TypeError):
        plan.schedule[3] = ConnectionFaults()  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.seed = 3  # type: ignore[misc]
    assert hash(plan) == hash(Faults(schedule={1: ConnectionFaults(refuse=True)}))


def test_connection_faults_repr_shows_only_faults() -> None:
    """The repr lists the fields that differ from the defaults."""
    assert repr(ConnectionFaults()) == "ConnectionFaults()"
    assert repr(ConnectionFaults(refuse=True, max_read_bytes=3)) == (
        "ConnectionFaults(refuse=True, max_read_bytes=3)"
    )
