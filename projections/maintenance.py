"""ANALYZE after large ingests. Autovacuum's analyze trigger can lag far behind a bulk load or
a replay, and the planner then plans for a table that is a fraction of its real size. The
projector therefore checks, at most every `CORE_ANALYZE_CHECK_S` seconds and only after it
applied something, whether a projection table changed by more than `CORE_ANALYZE_GROWTH` of
its size at the last analyze (`pg_stat_user_tables`: n_mod_since_analyze against
n_live_tup − n_mod_since_analyze), and runs ANALYZE on it outside any batch transaction.
With several workers a transaction-level advisory lock lets one of them do it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from kernel.metrics import ANALYZE_RUNS
from kernel.telemetry.logs import json_logger, log_fields

TABLES = ("memories", "claims", "claim_assertions", "claim_edges", "slot_state",
          "memory_recall_events", "command_outcomes", "subjects", "subject_events")
"""Every table a projector batch reads (a fresh table's cached plans were made for an empty
one: on a new database the first minute of waiting writes ran at half speed, its Postgres
CPU per write 3–4x, until something analyzed them)."""
MIN_ROWS = 100
ANALYZE_LOCK = 0x414E4C5A  # "ANLZ"
STATS_SQL = """
SELECT s.schemaname, s.relname, s.n_live_tup, s.n_mod_since_analyze
FROM pg_stat_user_tables s
WHERE s.relid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)
"""
log = logging.getLogger("core.maintenance")
_applied = [0]


_last_applied_at = [0.0]
# An idle backend publishes its table statistics up to 10 s after a transaction: keep checking for
# this long after the last applied batch so a lagging n_mod_since_analyze is not missed.
STATS_SETTLE_S = 12.0


def note_applied(count: int) -> None:
    _applied[0] += count
    _last_applied_at[0] = time.monotonic()


def needs_analyze(live: int, modified: int, growth: float) -> bool:
    base = max(live - modified, 0)
    return modified >= MIN_ROWS and modified >= growth * base


def quoted(schema: str, table: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))


@dataclass
class GrowthAnalyzer:
    pool: Any
    growth: float
    check_s: float
    seen: int = field(default=0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.check_s)
            settling = time.monotonic() - _last_applied_at[0] < STATS_SETTLE_S
            if _applied[0] == self.seen and not settling:
                continue
            self.seen = _applied[0]
            try:
                await self.check()
            except Exception as exc:  # maintenance never stops the projector
                log.warning("analyze check failed: %r", exc)

    async def check(self) -> list[str]:
        rows = await self.pool.fetch(STATS_SQL, list(TABLES))
        due = [r for r in rows
               if needs_analyze(r["n_live_tup"], r["n_mod_since_analyze"], self.growth)]
        return [name for r in due if (name := await self._analyze(r))]

    async def _analyze(self, row: Any) -> str | None:
        name = quoted(row["schemaname"], row["relname"])
        started = time.perf_counter()
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", ANALYZE_LOCK):
                return None
            await conn.execute(f"ANALYZE {name}")
        ANALYZE_RUNS.labels(row["relname"]).inc()
        log_fields(json_logger("core.maintenance.analyze"), "analyze", table=name,
                   rows=row["n_live_tup"], modified=row["n_mod_since_analyze"],
                   duration_ms=round((time.perf_counter() - started) * 1000, 2))
        return name
