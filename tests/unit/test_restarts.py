"""`core dev` restarts a dead child after 0.5 s, doubling to 10 s, and forgets past failures
once a child stayed up for a minute."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.restarts import Backoff, Supervised
from kernel.runtime.process import ChildProcess

pytestmark = pytest.mark.unit


def test_delays_double_from_half_a_second_up_to_ten() -> None:
    policy = Backoff()
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_a_child_that_stayed_up_a_minute_starts_again_from_the_first_delay() -> None:
    policy = Backoff()
    assert policy.failures_after(5, uptime=61) == 1
    assert policy.delay(policy.failures_after(5, uptime=61)) == 0.5


def test_a_child_that_dies_quickly_waits_longer_each_time() -> None:
    policy = Backoff()
    failures, delays = 0, []
    for _ in range(4):
        failures = policy.failures_after(failures, uptime=1)
        delays.append(policy.delay(failures))
    assert delays == [0.5, 1, 2, 4]


@given(st.integers(min_value=1, max_value=10_000), st.floats(min_value=0, max_value=1e6))
def test_delays_stay_within_bounds(failures: int, uptime: float) -> None:
    policy = Backoff()
    assert 0.5 <= policy.delay(policy.failures_after(failures, uptime)) <= 10


def sleeper() -> ChildProcess:
    return ChildProcess.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_killed_child_is_restarted_after_its_delay_with_one_log_line() -> None:
    lines: list[str] = []
    unit = Supervised("sleeper", sleeper, Backoff(), lines.append)
    first = unit.child
    try:
        first.kill()
        unit.check(now=1000.0)
        assert lines == ["[core] sleeper exited (-9); restarting in 0.5s"]
        unit.check(now=1000.4)
        assert unit.child is first, "nothing restarts before the delay"
        unit.check(now=1000.5)
        assert unit.child is not first and unit.child.alive()
        assert len(lines) == 1
    finally:
        unit.stop()
    assert not unit.child.alive()
