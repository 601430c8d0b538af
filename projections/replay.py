"""Replay: fold the event log into a fresh Postgres schema, without emitting changes.

The same projectors as the live worker run over the same records in the same per-partition
order, so the schema equals what the live projection held at that point of the log. A
`--until` replay stops each partition at its first event after the given time (a prefix of
the log, i.e. a state that really existed); `--offsets` stops before the given offsets.

The partitions are folded in `LANES` concurrent lanes (partition mod LANES), each reading
its own partitions in order and applying them in its own transactions: nothing a projector
writes is shared between partitions (a subject lives in one partition; edge ids count per
partition), and the order across partitions was never fixed. While one lane waits for
Postgres, the other decodes and builds its next batch, so the two cores overlap instead of
taking turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import orjson
from pydantic import ValidationError

from kernel.db import create_pool
from kernel.kafka import end_offsets
from kernel.migrate import migration_files
from kernel.projection_pointer import GLOBAL_TABLES, quote_ident, search_path
from kernel.settings import Settings
from kernel.shredding import KeyRing
from projections.applier import Applier, Record
from projections.handlers import BATCHERS, HANDLERS
from projections.lanes import gather_all, split
from projections.log_reader import read_range
from schemas.envelope import EventEnvelope

Progress = Callable[[int, int], None]
LANES = 2
BATCH_MAX = 5000
"""Records per replay transaction: the per-statement cost is paid per batch, not event."""


@dataclass(frozen=True)
class StopRule:
    until: datetime | None = None
    offsets: Mapping[int, int] | None = None


@dataclass
class ReplaySummary:
    events: int = 0
    applied: int = 0
    seconds: float = 0.0
    positions: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


async def create_projection_schema(conn: asyncpg.Connection, schema: str) -> None:
    """The projection tables of every migration, inside `schema` (global tables stay public)."""
    async with conn.transaction():
        await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        await conn.execute(f"SET LOCAL search_path TO {search_path(schema)}")
        for file in migration_files():
            await conn.execute(file.sql)
        for table in GLOBAL_TABLES:
            await conn.execute(f"DROP TABLE IF EXISTS {quote_ident(schema)}.{table} CASCADE")


def _occurred_at(record: Record) -> datetime | None:
    """None for a record that is no event (the applier skips it as it did live)."""
    try:
        return EventEnvelope.model_validate(orjson.loads(record.value)).occurred_at
    except (orjson.JSONDecodeError, ValidationError):
        return None


class Replayer:
    def __init__(self, settings: Settings, schema: str, *, project: str | None = None,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.schema = schema
        self.project = project
        self.progress = progress or (lambda _done, _total: None)

    def _accept(self, event: EventEnvelope) -> bool:
        return self.project is None or event.project_id == self.project

    async def run(self, stop: StopRule, start: Mapping[int, int] | None = None) -> ReplaySummary:
        ends = await end_offsets(self.settings, self.settings.events_topic)
        if stop.offsets is not None:
            ends = {p: min(e, stop.offsets.get(p, e)) for p, e in ends.items()}
        pool = await create_pool(self.settings.resolved_database_url(), max_size=LANES,
                                 search_path=self.schema)
        try:
            return await self._fold(pool, dict(start or {}), ends, stop.until)
        finally:
            await pool.close()

    async def _fold(self, pool: asyncpg.Pool, start: dict[int, int], ends: dict[int, int],
                    until: datetime | None) -> ReplaySummary:
        applier = Applier(pool, self.settings.worker_group, HANDLERS, emit_changes=False,
                          notify_outcomes=False, schema=self.schema, accept=self._accept,
                          batchers=BATCHERS, strict_positions=False,
                          idempotency_ttl_s=self.settings.idempotency_ttl_s,
                          keyring=KeyRing.from_settings(self.settings))
        summary, began = ReplaySummary(), time.monotonic()
        total = sum(max(0, e - start.get(p, 0)) for p, e in ends.items())
        stopped: set[int] = set()

        async def lane(partitions: set[int]) -> None:
            async for batch in read_range(
                    self.settings.resolved_bootstrap(), self.settings.events_topic,
                    {p: s for p, s in start.items() if p in partitions},
                    {p: e for p, e in ends.items() if p in partitions}, max_records=BATCH_MAX):
                records = _before(batch, until, stopped)
                result = await applier.apply(records)
                summary.events += len(records)
                summary.applied += result.applied
                for record in records:
                    summary.positions[record.partition] = record.offset + 1
                self.progress(summary.events, total)

        await gather_all(*(lane(partitions) for partitions in split(ends, LANES)))
        summary.seconds = time.monotonic() - began
        return summary


def _before(batch: list[Record], until: datetime | None, stopped: set[int]) -> list[Record]:
    if until is None:
        return batch
    kept: list[Record] = []
    for record in batch:
        if record.partition in stopped:
            continue
        occurred = _occurred_at(record)
        if occurred is not None and occurred > until:
            stopped.add(record.partition)
            continue
        kept.append(record)
    return kept
