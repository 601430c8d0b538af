"""Rebuild the live projection into a new schema while traffic continues, then switch.

1. Replay the log into a new schema; repeat to catch up with the growing log.
2. Take the switch lock exclusively: live worker batches hold it shared, so none is in flight
   and new ones wait.
3. Replay exactly up to the live projection's stored offsets, compare every projection
   table with the live one, and only if they are equal point the live projection at the new
   schema (workers follow per batch, APIs on a NOTIFY). The old schema is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from kernel.projection_pointer import CHANNEL, SWITCH_LOCK, active_schema, quote_ident
from kernel.settings import Settings
from projections.compare import differing_tables
from projections.replay import Progress, Replayer, ReplaySummary, StopRule, create_projection_schema

CATCH_UP_ROUNDS = 3


@dataclass(frozen=True)
class RebuildResult:
    schema: str
    previous: str
    events: int
    seconds: float
    differences: list[str]

    @property
    def switched(self) -> bool:
        return not self.differences


async def _live_offsets(conn: asyncpg.Connection, schema: str,
                        settings: Settings) -> dict[int, int]:
    rows = await conn.fetch(
        f"SELECT partition, next_offset FROM {quote_ident(schema)}.projection_offsets "
        "WHERE consumer = $1 AND topic = $2", settings.worker_group, settings.events_topic)
    done = {r["partition"]: r["next_offset"] for r in rows}
    return {p: done.get(p, 0) for p in range(settings.partitions)}


async def rebuild(settings: Settings, schema: str,
                  progress: Progress | None = None) -> RebuildResult:
    conn = await asyncpg.connect(settings.resolved_database_url())
    try:
        await create_projection_schema(conn, schema)
        replayer = Replayer(settings, schema, progress=progress)
        summary = ReplaySummary()
        for _ in range(CATCH_UP_ROUNDS):
            live = await _live_offsets(conn, await active_schema(conn), settings)
            summary = _add(summary, await replayer.run(StopRule(offsets=live), summary.positions))
        return await _switch(conn, settings, replayer, schema, summary)
    finally:
        await conn.close()


async def _switch(conn: asyncpg.Connection, settings: Settings, replayer: Replayer, schema: str,
                  summary: ReplaySummary) -> RebuildResult:
    await conn.execute("SELECT pg_advisory_lock($1)", SWITCH_LOCK)  # own connection
    try:
        previous = await active_schema(conn)
        live = await _live_offsets(conn, previous, settings)
        final = await replayer.run(StopRule(offsets=live), summary.positions)
        summary = _add(summary, final)
        differences = await differing_tables(conn, previous, schema)
        if not differences:
            await conn.execute(
                "INSERT INTO public.projection_pointer (singleton, schema_name) VALUES (true, $1) "
                "ON CONFLICT (singleton) DO UPDATE SET schema_name = $1, switched_at = now()",
                schema)
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, schema)
        return RebuildResult(schema, previous, summary.events, summary.seconds, differences)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", SWITCH_LOCK)


def _add(total: ReplaySummary, more: ReplaySummary) -> ReplaySummary:
    return ReplaySummary(total.events + more.events, total.applied + more.applied,
                         total.seconds + more.seconds, {**total.positions, **more.positions})
