"""The subjects projection's cost per projector batch (`subjects.*` scenarios).

In a fresh database filled with 1,000 small subjects (10 memories, 2 claims each) and one
subject of 10,000 memories, the statement the applier runs at the end of each batch
(`projections.subjects.UPSERT_SQL`) is timed inside a transaction, commit excluded: the
commit is the batch's anyway. Batches touching 1, 64 and 500 subjects, with a recount (the
batch changed memories or claims) and without (activity only), and the 10k subject alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.catchup import admin_dsn
from bench.context import Bench
from bench.projector import drop_database, fresh_database
from bench.stats import summarize
from projections.subjects import UPSERT_SQL

FILL = [
    "INSERT INTO memories (id, project_id, subject_id, text) SELECT 'big' || g, 'p', 'big', "
    "'memory ' || g FROM generate_series(1, 10000) g",
    "INSERT INTO memories (id, project_id, subject_id, text) SELECT 's' || g, 'p', "
    "'subject-' || (g % 1000), 'memory ' || g FROM generate_series(1, 10000) g",
    "INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, slot) "
    "SELECT 'c' || g, 'p', 'subject-' || (g % 1000), 'p' || g, 'v', 'p' || g "
    "FROM generate_series(1, 2000) g",
    "VACUUM ANALYZE",
]
CASES = [("1", ["subject-1"]), ("64", [f"subject-{i}" for i in range(64)]),
         ("500", [f"subject-{i}" for i in range(500)]), ("hot10k", ["big"])]


async def run_subjects(bench: Bench) -> None:
    rounds = 100 if bench.options.duration_s >= 5 else 10
    name = f"core_bench_subjects_{bench.run_id}"
    admin = admin_dsn(bench.stack.database_url)
    conn = await asyncpg.connect(await fresh_database(admin, name))
    try:
        for sql in FILL:
            await conn.execute(sql)
        for recount in (True, False):
            for label, subjects in CASES:
                latencies = await _time(conn, subjects, recount, rounds)
                bench.record(summarize(
                    f"subjects.{'recount' if recount else 'activity'}.{label}", "subjects",
                    latencies, 0, sum(latencies), unit="batches/s", subjects=len(subjects)))
    finally:
        await conn.close()
        await drop_database(admin, name)


async def _time(conn: asyncpg.Connection, subjects: list[str], recount: bool,
                rounds: int) -> list[float]:
    start = datetime.now(UTC)
    latencies: list[float] = []
    for i in range(rounds):
        at = start + timedelta(milliseconds=i)
        async with conn.transaction():
            began = time.perf_counter()
            await conn.execute(UPSERT_SQL, ["p"] * len(subjects), subjects,
                               [at] * len(subjects), [recount] * len(subjects))
            latencies.append(time.perf_counter() - began)
    return latencies
