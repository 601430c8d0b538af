"""The applier runs a batch without savepoints, and re-runs it with one savepoint per event
only when an event fails: the failing event gets its 500 outcome, the others still apply,
once, with the partition's offset stored in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from core.db import create_pool
from core.migrate import migrate
from projections.applier import Applier, Record
from projections.handlers import HANDLERS
from tests.support.system import Infra

pytestmark = pytest.mark.integration

TOPIC = "t.events"


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"core_applier_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(infra.dsn(name))
    try:
        await migrate(conn)
    finally:
        await conn.close()
    created = await create_pool(infra.dsn(name), max_size=2)
    try:
        yield created
    finally:
        await created.close()


def submitted(offset: int, memory_id: str, importance: int) -> Record:
    body = {"event_id": str(uuid.uuid4()), "type": "memory.submitted", "v": 1,
            "project_id": "p", "subject_id": "s", "occurred_at": datetime.now(UTC).isoformat(),
            "actor": "test", "idempotency_key": None,
            "payload": {"id": memory_id, "text": f"memory {memory_id}",
                        "importance": importance}}
    return Record(TOPIC, 0, offset, b"p\x1fs", orjson.dumps(body))


async def test_a_clean_batch_runs_without_savepoints(pool: asyncpg.Pool) -> None:
    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False)
    result = await applier.apply([submitted(0, "m-a", 10), submitted(1, "m-b", 20)])
    assert not result.guarded
    assert [o.status for _, o in result.outcomes] == [201, 201]


async def test_a_failing_event_reruns_the_batch_guarded(pool: asyncpg.Pool) -> None:
    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False)
    batch = [submitted(0, "m-1", 10), submitted(1, "m-2", 500), submitted(2, "m-3", 30)]
    result = await applier.apply(batch)
    assert result.guarded
    assert [o.status for _, o in result.outcomes] == [201, 500, 201]
    ids = {r["id"] for r in await pool.fetch("SELECT id FROM memories")}
    assert ids == {"m-1", "m-3"}
    assert await pool.fetchval("SELECT next_offset FROM projection_offsets") == 3
    assert await pool.fetchval("SELECT count(*) FROM command_outcomes") == 3
    again = await applier.apply(batch)
    assert again.skipped == 3 and await pool.fetchval("SELECT count(*) FROM memories") == 2
