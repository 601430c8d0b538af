"""Projector telemetry: one JSON log line and counters per batch, and a sampler that publishes
pool occupancy, outbox backlog and age, and per-partition lag every few seconds. The worker
serves them on `CORE_WORKER_METRICS_PORT` (0 = off) at `HOST` (default 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence, Sized
from datetime import UTC, datetime
from typing import Any, Protocol

from kernel.metrics import (
    COMMAND_TO_PROJECTION_SECONDS,
    DEAD_LETTERS,
    DLQ_RECORDS,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_SECONDS,
    PROJECTOR_BATCH_SECONDS,
    PROJECTOR_EVENTS,
)
from kernel.settings import Settings
from kernel.telemetry.db import sample_pool
from kernel.telemetry.kafka import LogEnds
from kernel.telemetry.lag import applied_offsets, lag_by_partition, publish_lag
from kernel.telemetry.logs import json_logger, log_fields
from projections.maintenance import note_applied

SAMPLE_EVERY_S = 5.0
log = logging.getLogger("core.telemetry.projector")


class Positioned(Protocol):
    @property
    def partition(self) -> int: ...


class BatchLike(Protocol):
    @property
    def applied(self) -> int: ...
    @property
    def skipped(self) -> int: ...
    @property
    def changes(self) -> Sized: ...
    @property
    def dead_letters(self) -> Sized: ...
    @property
    def outcomes(self) -> Sequence[tuple[Any, Any]]: ...


def observe_batch(records: Sequence[Positioned], result: BatchLike, started: float) -> None:
    """After a batch committed and its dead letters were produced."""
    seconds = time.perf_counter() - started
    PROJECTOR_BATCH_SECONDS.observe(seconds)
    PROJECTOR_EVENTS.labels("applied").inc(result.applied)
    PROJECTOR_EVENTS.labels("skipped").inc(result.skipped)
    DEAD_LETTERS.inc(len(result.dead_letters))
    note_applied(result.applied)
    now = datetime.now(UTC)
    for event, _outcome in result.outcomes:
        latency = (now - event.occurred_at).total_seconds()
        COMMAND_TO_PROJECTION_SECONDS.labels(event.type).observe(max(latency, 0.0))
    log_fields(json_logger("core.projections.batch"), "batch", applied=result.applied,
               skipped=result.skipped, changes=len(result.changes),
               dlq=len(result.dead_letters), duration_ms=round(seconds * 1000, 2),
               partitions=sorted({r.partition for r in records}))


class Sampler:
    def __init__(self, settings: Settings, pool: Any) -> None:
        self.settings, self.pool = settings, pool
        self.ends = LogEnds(settings.resolved_bootstrap(), settings.events_topic)
        self.dlq_ends = LogEnds(settings.resolved_bootstrap(), settings.dlq_topic)

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a sampling failure must never stop the projector
                log.warning("metrics sampling failed: %r", exc)
                await self.ends.close()
                await self.dlq_ends.close()
            await asyncio.sleep(SAMPLE_EVERY_S)

    async def sample(self) -> None:
        sample_pool("projector", self.pool)
        backlog = await self.pool.fetchrow(
            "SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - "
            "min(enqueued_at)), 0)::float8 AS oldest FROM outbox")
        OUTBOX_BACKLOG.set(backlog["n"])
        OUTBOX_OLDEST_SECONDS.set(backlog["oldest"])
        async with asyncio.timeout(SAMPLE_EVERY_S):
            ends = await self.ends.fetch()
        applied = await applied_offsets(self.pool, self.settings.worker_group,
                                        self.settings.events_topic)
        publish_lag(self.settings.events_topic, lag_by_partition(ends, applied))
        async with asyncio.timeout(SAMPLE_EVERY_S):
            dead = await self.dlq_ends.fetch()
        DLQ_RECORDS.labels(self.settings.dlq_topic).set(sum(dead.values()))
