"""Restarting a dead child of `core dev`: a pure backoff policy and one supervised unit.

A unit owns a way to start its child (`start`), not just the process: restarting Postgres or
a Kafka node means waiting for its port again, exactly as at first start.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kernel.runtime.process import ChildProcess


@dataclass(frozen=True)
class Backoff:
    """Delay before restart number `failures` (1-based): initial, doubling, capped; a child
    that stayed up `reset_after` seconds starts again from `initial`."""

    initial: float = 0.5
    maximum: float = 10.0
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        doublings = min(max(0, failures - 1), 64)  # a long crash loop must not overflow
        return float(min(self.maximum, self.initial * 2**doublings))

    def failures_after(self, failures: int, uptime: float) -> int:
        return 1 if uptime >= self.reset_after else failures + 1


class Supervised:
    """One child and how to (re)start it; `check` is called by the watch loop. `child` is the
    process when it was started already (Kafka nodes start together, then wait together);
    units of one `group` are stopped together."""

    def __init__(self, name: str, start: Callable[[], ChildProcess], policy: Backoff,
                 log: Callable[[str], None], child: ChildProcess | None = None,
                 group: str = "") -> None:
        self.name = name
        self.group = group or name
        self.start = start
        self.policy = policy
        self.log = log
        self.child = child or start()
        self.started_at = time.monotonic()
        self.failures = 0
        self.restart_at: float | None = None

    def check(self, now: float) -> None:
        if self.restart_at is None and not self.child.alive():
            self._schedule(now, f"exited ({self.child.popen.returncode})")
        elif self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            self.started_at = now
            try:
                self.child = self.start()
            except Exception as exc:  # a failed start is one more failure, retried later
                self._schedule(time.monotonic(), f"failed to start ({exc})")

    def _schedule(self, now: float, why: str) -> None:
        self.failures = self.policy.failures_after(self.failures, now - self.started_at)
        delay = self.policy.delay(self.failures)
        self.restart_at = now + delay
        self.log(f"[core] {self.name} {why}; restarting in {delay:g}s")

    def stop(self) -> None:
        self.restart_at = None
        self.child.stop()


def stop_in_reverse(units: Sequence[Supervised]) -> None:
    """Last started first; the units of one group are signalled together, then awaited (a
    Kafka quorum stopped node by node would leave the last node waiting for it)."""
    for _, group in itertools.groupby(reversed(units), key=lambda unit: unit.group):
        members = list(group)
        for unit in members:
            unit.restart_at = None
            unit.child.request_stop()
        for unit in members:
            unit.stop()
