"""The store search's plans at 10k memories for one subject: the vector candidates come from
the HNSW index, a rare token from the trigram index, and the projector's exact similarity
query never uses the approximate index. Rows are COPYed into a database migrated up to
0002; the rest of the migrations then build the indexes over them, as on an upgrade."""

from __future__ import annotations

import array
import functools
import json
import operator
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from kernel.db import connect, connect_plain, create_pool
from kernel.migrate import MIGRATIONS_DIR, migrate
from projections.memory_projector import SIMILAR_SQL
from queries.search_store import (
    LEXICAL_SQL,
    PLANNER_SQL,
    VECTOR_SQL,
    ann_k,
    lexical_patterns,
    search_memories,
    vector_args,
)
from tests.support.system import Infra

pytestmark = pytest.mark.integration
SIZE, TOPICS, PROJECT, SUBJECT = 10_000, 50, "plan", "big-subject"
HNSW, TRIGRAM = "idx_memories_embedding_hnsw", "idx_memories_text_trigram"


@functools.cache
def vectors(seed: int = 5) -> list[list[float]]:
    """Deterministic vectors clustered around a few topics (fast to index, like real data)."""
    rng = random.Random(seed)
    centers = [array.array("f", array.array("h", rng.randbytes(3072))) for _ in range(TOPICS)]
    noise = [array.array("f", (v / 8 for v in array.array("h", rng.randbytes(3072))))
             for _ in range(100)]
    return [list(map(operator.add, centers[i % TOPICS], noise[rng.randrange(100)]))
            for i in range(SIZE)]


@pytest.fixture(scope="module")
async def database(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    name = f"core_plan_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    early = tmp_path_factory.mktemp("migrations")
    for file in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if file.name < "0003":
            shutil.copy(file, early / file.name)
    try:
        await fill(infra.dsn(name), early)
        yield infra.dsn(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def fill(dsn: str, early: Path) -> None:
    conn = await connect_plain(dsn)
    await migrate(conn, early)
    await conn.close()
    conn = await connect(dsn)
    try:
        await conn.copy_records_to_table(
            "memories", columns=["id", "project_id", "subject_id", "text", "embedding"],
            records=[(f"mem_{i:05d}", PROJECT, SUBJECT, f"note {i} about w{i:05d}x", vec)
                     for i, vec in enumerate(vectors())])
        await conn.execute("SET maintenance_work_mem = '512MB'")
        assert "0003_vector_index" in await migrate(conn)
        await conn.execute("ANALYZE memories")
    finally:
        await conn.close()


async def plan_of(dsn: str, sql: str, *args: object) -> str:
    conn = await connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(PLANNER_SQL, str(ann_k(25)))
            return json.dumps(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args))
    finally:
        await conn.close()


async def test_vector_candidates_come_from_the_hnsw_index(database: str) -> None:
    query = vectors()[42]
    plan = await plan_of(database, VECTOR_SQL, *vector_args(PROJECT, SUBJECT, "w00042x", query,
                                                            25, 30))
    assert HNSW in plan
    pool = await create_pool(database, max_size=2)
    try:
        hits = await search_memories(pool, PROJECT, SUBJECT, "w00042x", query, 5)
    finally:
        await pool.close()
    assert hits[0].id == "mem_00042" and hits[0].score == pytest.approx(100, abs=1e-3)
    assert len(hits) == 5


async def test_a_rare_token_is_found_through_trigrams(database: str) -> None:
    plan = await plan_of(database, LEXICAL_SQL, PROJECT, SUBJECT, 25,
                         lexical_patterns("w01234x"))
    assert TRIGRAM in plan and HNSW not in plan


async def test_exact_similarity_queries_never_use_the_approximate_index(database: str) -> None:
    plan = await plan_of(database, SIMILAR_SQL, PROJECT, SUBJECT, vectors()[7])
    assert HNSW not in plan
