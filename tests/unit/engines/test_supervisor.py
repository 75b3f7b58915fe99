"""The supervisor's restart policy, driven by a fake clock and fake children."""

from __future__ import annotations

import itertools
import logging

import pytest

from fakes.child_process import FakeChild
from polyfhir_engines.supervisor import Backoff, Supervisor

POLICY = Backoff(initial_s=1.0, factor=2.0, maximum_s=8.0, stable_after_s=60.0, give_up_after=6)


def running(child: FakeChild) -> bool:
    """Read through a call: mypy would keep a narrowed attribute across ``tick``."""
    return child.running


def supervise(children: list[FakeChild], policy: Backoff = POLICY) -> Supervisor:
    """A supervisor that restarts in the calling thread, so each tick's effect is visible."""
    return Supervisor(children, policy, launch=lambda restart: restart())


def advance(supervisor: Supervisor, start: float, until: float, step: float = 0.25) -> None:
    now = start
    while now <= until:
        supervisor.tick(now)
        now += step


def test_a_dead_child_is_restarted_after_the_first_delay_and_the_others_are_left_alone() -> None:
    indexer, gateway = FakeChild("search-indexer"), FakeChild("gateway")
    supervisor = supervise([indexer, gateway])
    supervisor.tick(0.0)
    indexer.crash()
    supervisor.tick(10.0)  # noticed: restart due at 11.0
    supervisor.tick(10.5)
    assert not running(indexer)
    supervisor.tick(11.0)
    assert running(indexer)
    assert (indexer.starts, gateway.starts) == (1, 0)
    assert supervisor.restarts == {"search-indexer": 1}


def test_the_delay_doubles_per_failed_restart_and_is_capped() -> None:
    primary = FakeChild("primary-store", failing_starts=4)
    supervisor = supervise([primary])
    primary.crash()
    restarted_at: list[float] = []
    now = 0.0
    while not primary.running and now < 60:
        before = primary.starts
        supervisor.tick(now)
        if primary.starts > before:
            restarted_at.append(now)
        now += 0.25
    # noticed at 0: +1, then each failed start is noticed one tick later: +2, +4, +8, +8
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(restarted_at)]
    assert restarted_at[0] == 1.0
    assert gaps == [2.25, 4.25, 8.25, 8.25]
    assert running(primary)


def test_a_child_that_stays_up_starts_counting_from_one_again() -> None:
    broker = FakeChild("tansu")
    supervisor = supervise([broker])
    for crash_at in (0.0, 100.0, 200.0):  # each crash after a stable run
        broker.crash()
        supervisor.tick(crash_at)
        supervisor.tick(crash_at + 0.99)
        assert not running(broker)
        supervisor.tick(crash_at + 1.0)  # always the first delay
        assert running(broker)
        advance(supervisor, crash_at + 1.0, crash_at + 99.0, step=10.0)


def test_it_gives_up_on_a_child_that_never_starts() -> None:
    engine = FakeChild("osmem", failing_starts=1000)
    other = FakeChild("gateway")
    supervisor = supervise([engine, other])
    engine.crash()
    advance(supervisor, 0.0, 120.0)
    assert supervisor.gave_up == ["osmem"]
    assert engine.starts == POLICY.give_up_after
    other.crash()
    advance(supervisor, 120.0, 140.0)
    assert other.starts == 0  # a stack given up on is not kept half alive


def test_a_held_child_stays_down_until_released() -> None:
    broker = FakeChild("tansu")
    supervisor = supervise([broker])
    with supervisor.holding("tansu"):
        broker.crash(exit_code=0)
        advance(supervisor, 0.0, 10.0)
        assert broker.starts == 0
    advance(supervisor, 10.0, 11.0)
    assert running(broker)


def test_every_decision_is_one_structured_log_line(caplog: pytest.LogCaptureFixture) -> None:
    indexer = FakeChild("search-indexer")
    supervisor = supervise([indexer])
    indexer.crash(exit_code=-9)
    with caplog.at_level(logging.INFO, logger="polyfhir.supervisor"):
        advance(supervisor, 0.0, 1.0)
    exited, restarted = caplog.records
    assert exited.getMessage() == "child exited"
    assert {k: exited.__dict__[k] for k in ("child", "exit_code", "attempt", "next_delay_s")} == {
        "child": "search-indexer",
        "exit_code": -9,
        "attempt": 1,
        "next_delay_s": 1.0,
    }
    assert restarted.getMessage() == "child restarted"
    assert (restarted.__dict__["child"], restarted.__dict__["pid"]) == ("search-indexer", 101)


def test_the_default_policy_is_bounded() -> None:
    policy = Backoff()
    assert [policy.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
