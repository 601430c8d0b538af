"""`GET /ready`: may this API process take traffic? Postgres answers `select 1`, Kafka answers
the events topic's end offsets, the projector is at most `CORE_READY_MAX_LAG` events behind
(sum over partitions), and the oldest change the worker's outbox relay has not delivered yet
is at most `CORE_READY_MAX_OUTBOX_AGE_S` old (a dead relay stops SSE while writes go on).
Each check is bounded by a timeout; Postgres and Kafka run at once. The projector check also
sets this process's `core_projector_lag_events{partition}` gauges (the console charts them).

200 `{"ready": true, "checks": {...}}`, or 503 with `"failing": [names]`. `/health` stays the
liveness probe: it never touches a dependency.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from kernel.telemetry.kafka import LogEnds
from kernel.telemetry.lag import applied_offsets, lag_by_partition, publish_lag

T = TypeVar("T")
Check = dict[str, Any]


async def bounded(step: Awaitable[T], timeout_s: float) -> tuple[T | None, str | None]:
    """The step's result, or None and a short reason (never raises)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await step, None
    except TimeoutError:
        return None, f"timed out after {timeout_s:g}s"
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]


@dataclass
class Readiness:
    pool: Any
    ends: LogEnds
    consumer: str
    max_lag: int
    max_outbox_age_s: float = 30.0
    timeout_s: float = 2.0

    async def check(self) -> tuple[bool, dict[str, Check]]:
        (pg, pg_error), (ends, kafka_error) = await asyncio.gather(
            bounded(self.pool.fetchval("SELECT 1"), self.timeout_s),
            bounded(self.ends.fetch(), self.timeout_s))
        checks = {"postgres": _result(pg_error), "kafka": _result(kafka_error)}
        if ends is not None:
            checks["kafka"]["partitions"] = len(ends)
        checks["projector"] = await self._projector(ends, pg_error)
        checks["relay"] = await self._relay(pg_error)
        return all(c["ok"] for c in checks.values()), checks

    async def _projector(self, ends: dict[int, int] | None, pg_error: str | None) -> Check:
        if ends is None or pg_error is not None:
            return {"ok": False, "error": "lag unknown: postgres or kafka unavailable"}
        applied, error = await bounded(
            applied_offsets(self.pool, self.consumer, self.ends.topic), self.timeout_s)
        if applied is None:
            return {"ok": False, "error": error}
        partitions = lag_by_partition(ends, applied)
        publish_lag(self.ends.topic, partitions)  # this process's /metrics, per partition
        lag = sum(partitions.values())
        found: Check = {"ok": lag <= self.max_lag, "lag": lag, "max_lag": self.max_lag}
        return found if found["ok"] else {**found, "error": "projector lag above max_lag"}


    async def _relay(self, pg_error: str | None) -> Check:
        if pg_error is not None:
            return {"ok": False, "error": "outbox unknown: postgres unavailable"}
        age, error = await bounded(self.pool.fetchval(OLDEST_OUTBOX_SQL), self.timeout_s)
        if error is not None:
            return {"ok": False, "error": error}
        found: Check = {"ok": (age or 0.0) <= self.max_outbox_age_s,
                        "oldest_undelivered_s": round(age or 0.0, 3),
                        "max_age_s": self.max_outbox_age_s}
        return found if found["ok"] else {**found, "error": "outbox relay is behind or down"}


OLDEST_OUTBOX_SQL = ("SELECT EXTRACT(EPOCH FROM clock_timestamp() - min(enqueued_at))::float8 "
                     "FROM outbox")


def _result(error: str | None) -> Check:
    return {"ok": True} if error is None else {"ok": False, "error": error}


def ready_body(ready: bool, checks: dict[str, Check]) -> tuple[int, dict[str, Any]]:
    if ready:
        return 200, {"ready": True, "checks": checks}
    failing = [name for name, c in checks.items() if not c["ok"]]
    return 503, {"ready": False, "failing": failing, "checks": checks}
