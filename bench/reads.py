"""GET one memory, list a subject, search a subject (simple engine) at 10k and 100k memories.

The first size is filled through the API's write path (`Prefer: respond-async`); the larger
ones are filled with COPY straight into Postgres by `bench.search_bench.fill` (texts and
clustered 1536-d vectors, seeded), which also runs the store-level search figures: the
vector + lexical path of `queries.search_store` that the simple engine calls.
"""

from __future__ import annotations

import itertools
import random
import time
from urllib.parse import quote

import asyncpg
import orjson

from bench import search_bench
from bench.client import Connection
from bench.context import Bench
from bench.driver import drive
from bench.stats import summarize
from kernel.db import create_pool

COPY_PROJECT, COPY_SUBJECT = search_bench.PROJECT, search_bench.SUBJECT


async def fill_by_api(bench: Bench, corpus: search_bench.Corpus, size: int) -> tuple[str, str]:
    project, subject = f"bench-{bench.run_id}-reads", "reader"
    headers = f"x-project-id: {project}\r\nprefer: respond-async\r\n".encode()
    counter = itertools.count()

    async def write(conn: Connection, _n: int) -> bool:
        seq = next(counter)
        body = orjson.dumps({"id": f"mem_{bench.run_id}_{seq:07d}", "subject_id": subject,
                             "text": corpus.text(random.randint(6, 20)),
                             "importance": seq % 100})
        status, _ = await conn.request("POST", "/api/v1/memories", body, headers)
        return status == 202

    run = await drive(bench.target, 64, 3600, size, write)
    drain = await bench.caught_up()
    bench.record(summarize(f"fill.api.{size}", "fill", run.latencies, run.errors, run.seconds,
                           64, drain_s=round(drain, 2)))
    return project, subject


async def fill_by_copy(bench: Bench, corpus: search_bench.Corpus, size: int) -> None:
    conn = await asyncpg.connect(bench.stack.database_url)
    try:
        have = await conn.fetchval("SELECT count(*) FROM memories WHERE project_id = $1 "
                                   "AND subject_id = $2", COPY_PROJECT, COPY_SUBJECT)
    finally:
        await conn.close()
    if have < size:
        seconds = await search_bench.fill(bench.stack.database_url, corpus, have, size)
        bench.note(f"COPY-filled {size - have} memories into {COPY_PROJECT}/{COPY_SUBJECT} "
                   f"in {seconds:.0f} s (rows, REINDEX, VACUUM ANALYZE)")


def reader(kind: str, project: str, subject: str, ids: list[str],
           corpus: search_bench.Corpus):  # noqa: ANN201 - an operation
    headers = f"x-project-id: {project}\r\n".encode()
    queries = [quote(corpus.query()[0]) for _ in range(500)]

    def path() -> str:
        if kind == "get":
            return f"/api/v1/memories/{random.choice(ids)}"
        if kind == "list":
            return f"/api/v1/memories?subject_id={subject}&limit=50"
        return f"/api/v1/memories/search?subject_id={subject}&q={random.choice(queries)}"

    async def operation(conn: Connection, _n: int) -> bool:
        status, _ = await conn.request("GET", path(), b"", headers)
        return status == 200

    return operation


async def read_scenarios(bench: Bench, size: int, project: str, subject: str,
                         corpus: search_bench.Corpus) -> None:
    conn = await asyncpg.connect(bench.stack.database_url)
    try:
        ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM memories WHERE project_id = $1 AND subject_id = $2 LIMIT 5000",
            project, subject)]
    finally:
        await conn.close()
    level, opts = bench.options.read_concurrency, bench.options
    for kind in ("get", "list", "search"):
        mark = bench.cpu_mark()
        run = await drive(bench.target, level, opts.duration_s, opts.max_requests,
                          reader(kind, project, subject, ids, corpus))
        bench.record(summarize(f"reads.{kind}.{size}", f"reads-{size}", run.latencies,
                               run.errors, run.seconds, level,
                               **bench.cpu_per_op(mark, len(run.latencies))))


async def store_search(bench: Bench, size: int, corpus: search_bench.Corpus) -> None:
    """Sequential store-level searches, vector + lexical and lexical only (as search_bench)."""
    queries = [corpus.query() for _ in range(max(50, min(400, int(bench.options.duration_s * 40))))]
    pool = await create_pool(bench.stack.database_url, max_size=2)
    try:
        await search_bench.timed(pool, queries[:10], True)
        for vector, name in ((True, "vector"), (False, "lexical")):
            began = time.perf_counter()
            samples, _ = await search_bench.timed(pool, queries, vector)
            bench.record(summarize(f"search.store.{name}.{size}", "search-store", samples, 0,
                                   time.perf_counter() - began, 1))
    finally:
        await pool.close()


async def run_reads(bench: Bench) -> None:
    corpus = search_bench.Corpus()
    for index, size in enumerate(bench.options.read_sizes):
        if index == 0:
            project, subject = await fill_by_api(bench, corpus, size)
            await read_scenarios(bench, size, project, subject, corpus)
        await fill_by_copy(bench, corpus, size)
        if index > 0:
            await read_scenarios(bench, size, COPY_PROJECT, COPY_SUBJECT, corpus)
        await store_search(bench, size, corpus)
