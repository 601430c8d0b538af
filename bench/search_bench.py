"""Store-search latency at 10k and 100k memories for one subject (not a test).

    .venv/bin/python -m bench.search_bench [--dsn postgresql://…/postgres] [--queries 200]

Without `--dsn` it starts a throw-away embedded Postgres. It creates a fresh database
(`core_bench`), applies the migrations, fills one subject directly with COPY (texts
from a Zipf vocabulary, 1536-d vectors clustered around topics; all random but seeded,
so every run sees the same data), rebuilds the indexes in bulk, then times
`queries.search_store.search_memories` for the vector and the lexical path and compares
the vector path's top results with an exact scan of the whole subject.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import operator
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from pgvector import Vector

from kernel.db import connect, connect_plain, create_pool
from kernel.migrate import migrate
from queries.search_store import search_memories

PROJECT, SUBJECT, DIM, TOPICS, LIMIT = "bench", "subject-1", 1536, 500, 25
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
EXACT_SQL = """
SELECT id, 0.60 * s + 0.25 * importance + 15 * confidence
  + CASE WHEN text ILIKE $4 THEN 20 WHEN text ILIKE ANY($5::text[]) THEN 16 ELSE 0 END AS eff,
  s, text ILIKE $4 OR text ILIKE ANY($5::text[]) AS lexical
FROM (SELECT *, coalesce((1 - (embedding <=> $3::vector)) * 100, 0) AS s FROM memories
      WHERE project_id = $1 AND subject_id = $2 AND status = 'active' AND NOT is_deleted) m
ORDER BY eff DESC, s DESC
"""


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Corpus:
    """Deterministic texts and vectors: memory i belongs to topic i % TOPICS."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.words = list(dict.fromkeys(self._word() for _ in range(8000)))
        self.weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.centers = [self._gaussian(1.0) for _ in range(TOPICS)]
        self.noise = [self._gaussian(0.6) for _ in range(512)]

    def _word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3)))

    def _gaussian(self, scale: float) -> array.array[float]:
        return array.array("f", (self.rng.gauss(0, scale) for _ in range(DIM)))

    def text(self, n_words: int) -> str:
        return " ".join(self.rng.choices(self.words, self.weights, k=n_words))

    def vector(self, topic: int) -> Vector:
        noise = self.noise[self.rng.randrange(len(self.noise))]
        return Vector(list(map(operator.add, self.centers[topic], noise)))

    def rows(self, start: int, stop: int) -> Iterator[tuple[object, ...]]:
        origin = datetime(2025, 1, 1, tzinfo=UTC)
        for i in range(start, stop):
            yield (f"mem_{i:07d}", PROJECT, SUBJECT, self.text(self.rng.randint(6, 20)),
                   self.rng.randint(0, 100), round(self.rng.uniform(0.5, 1.0), 2),
                   self.vector(i % TOPICS), origin + timedelta(minutes=i))

    def query(self) -> tuple[str, list[float]]:
        """1–3 words; the 20 most frequent words play the stop words and stay out."""
        words = self.rng.choices(self.words[20:], self.weights[20:], k=self.rng.randint(1, 3))
        return " ".join(words), self.vector(self.rng.randrange(TOPICS)).to_list()


@contextlib.asynccontextmanager
async def database(dsn: str | None) -> AsyncIterator[str]:
    if dsn is not None:
        yield await fresh_database(dsn)
        return
    from kernel.runtime.postgres import start_postgres
    from kernel.runtime.process import free_port

    home = Path(tempfile.mkdtemp(prefix="core-bench-"))
    home.chmod(0o755)
    port = free_port()
    child = start_postgres(home / "data", port, home / "postgres.log")
    try:
        yield await fresh_database(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    finally:
        child.stop()


async def fresh_database(admin_dsn: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute("DROP DATABASE IF EXISTS core_bench")
        await admin.execute("CREATE DATABASE core_bench")
    finally:
        await admin.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + "/core_bench"
    conn = await connect_plain(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


BULK_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'memories' AND indexdef ~ 'USING (hnsw|gin)'
"""


async def fill(dsn: str, corpus: Corpus, start: int, stop: int) -> float:
    """COPY rows start..stop; the HNSW and GIN indexes are dropped meanwhile and rebuilt in
    bulk (inserting 100k vectors one by one into an HNSW graph takes far longer)."""
    started = time.perf_counter()
    conn = await connect(dsn)
    try:
        indexes = await conn.fetch(BULK_INDEXES)
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')
        await conn.copy_records_to_table(
            "memories", records=corpus.rows(start, stop),
            columns=["id", "project_id", "subject_id", "text", "importance", "confidence",
                     "embedding", "created_at"])
        await conn.execute("SET maintenance_work_mem = '2GB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        await conn.execute("VACUUM ANALYZE memories")
    finally:
        await conn.close()
    return time.perf_counter() - started


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def timed(pool: asyncpg.Pool, queries: list[tuple[str, list[float]]],
                vector: bool) -> tuple[list[float], list[list[str]]]:
    samples, results = [], []
    for q, vec in queries:
        started = time.perf_counter()
        hits = await search_memories(pool, PROJECT, SUBJECT, q, vec if vector else [], LIMIT)
        samples.append(time.perf_counter() - started)
        results.append([hit.id for hit in hits])
    return samples, results


async def agreement(pool: asyncpg.Pool, queries: list[tuple[str, list[float]]],
                    found: list[list[str]]) -> tuple[float, list[float]]:
    """Share of the exact scan's top-LIMIT ids that the store search returned, and the
    exact scan's own latencies."""
    from queries.recall import tokenize_query
    from queries.search_store import like_pattern

    kept, samples = [], []
    for (q, vec), ids in zip(queries, found, strict=True):
        started = time.perf_counter()
        rows = await pool.fetch(EXACT_SQL, PROJECT, SUBJECT, vec, like_pattern(q),
                                [like_pattern(t) for t in tokenize_query(q)])
        samples.append(time.perf_counter() - started)
        exact = [r["id"] for r in rows if r["lexical"] or r["s"] >= 30][:LIMIT]
        kept.append(len(set(exact) & set(ids)) / len(exact) if exact else 1.0)
    return statistics.mean(kept), samples


async def measure(dsn: str, corpus: Corpus, size: int, n_queries: int) -> None:
    queries = [corpus.query() for _ in range(n_queries)]
    pool = await create_pool(dsn, max_size=2)
    try:
        await timed(pool, queries[:10], True)  # warm the caches
        vec_times, vec_ids = await timed(pool, queries, True)
        lex_times, _ = await timed(pool, queries, False)
        share, exact_times = await agreement(pool, queries[:30], vec_ids[:30])
    finally:
        await pool.close()
    say(f"{size:>7} memories  vector p50 {pct(vec_times, 50):6.1f} ms  p95 "
        f"{pct(vec_times, 95):6.1f} ms | lexical p50 {pct(lex_times, 50):6.1f} ms  p95 "
        f"{pct(lex_times, 95):6.1f} ms | exact scan p50 {pct(exact_times, 50):6.1f} ms, "
        f"top-{LIMIT} agreement with it {share:.1%}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="admin DSN of a Postgres with pgvector (default: embedded)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    corpus = Corpus()
    async with database(args.dsn) as dsn:
        filled = 0
        for size in (int(s) for s in args.sizes.split(",")):
            seconds = await fill(dsn, corpus, filled, size)
            say(f"filled {size} memories (+{size - filled} in {seconds:.0f} s)")
            filled = size
            await measure(dsn, corpus, size, args.queries)


if __name__ == "__main__":
    asyncio.run(main())
