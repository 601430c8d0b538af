"""The applier runs a batch without savepoints, and re-runs it with one savepoint per event
only when an event fails: the failing event gets its 500 outcome, the others still apply,
once, with the partition's offset stored in the same transaction. Runs of submissions
without embeddings, applied together, decide exactly as the per-event handler does."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from kernel.db import create_pool
from kernel.migrate import migrate
from projections.applier import Applier, OffsetGap, Record
from projections.handlers import BATCHERS, HANDLERS
from tests.support.system import Infra

pytestmark = pytest.mark.integration

TOPIC = "t.events"


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    async with fresh_pool(infra) as created:
        yield created


@contextlib.asynccontextmanager
async def fresh_pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
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


T0 = datetime(2025, 1, 1, tzinfo=UTC)


def submitted(offset: int, memory_id: str, importance: int = 50, text: str = "",
              subject: str = "s", key: str | None = None, at: datetime = T0,
              **payload: object) -> Record:
    body = {"event_id": str(uuid.uuid4()), "type": "memory.submitted", "v": 1,
            "project_id": "p", "subject_id": subject, "occurred_at": at.isoformat(),
            "actor": "test", "idempotency_key": key,
            "payload": {"id": memory_id, "text": text or f"memory {memory_id}",
                        "importance": importance, **payload}}
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


def mixed_log() -> list[Record]:
    vector = [0.0] * 1535 + [1.0]
    specs = [("m-1", "I like tea", "s", None, {}), ("m-2", "  i   LIKE tea ", "s", None, {}),
             ("m-1", "other text", "s", None, {}), ("m-3", "coffee", "s", None,
                                                    {"embedding": vector}),
             ("m-4", "I like tea", "s", None, {}), ("m-5", "keyed", "s", "k-1", {}),
             ("m-6", "I like tea", "s2", None, {}), ("m-7", "keyed", "s", "k-1", {}),
             ("m-8", "coffee", "s", None, {}), ("m-9", "tea too", "s", None,
                                                {"extract_claims": False})]
    return [submitted(i, mid, text=text, subject=subject, key=key, **extra)
            for i, (mid, text, subject, key, extra) in enumerate(specs)]


async def test_runs_decide_as_the_per_event_handler(infra: Infra) -> None:
    records, seen = mixed_log(), []
    for batchers in ({}, BATCHERS):
        async with fresh_pool(infra) as pool:
            result = await Applier(pool, "c", HANDLERS, notify_outcomes=False,
                                   batchers=batchers).apply(records)
            rows = await pool.fetch("SELECT id, subject_id, text, status, is_deleted "
                                    "FROM memories ORDER BY id")
            changes = await pool.fetch("SELECT change_id, type, payload FROM outbox ORDER BY id")
            seen.append(([(o.status, o.body) for _, o in result.outcomes],
                         [tuple(r) for r in rows], [tuple(c) for c in changes]))
    assert seen[0] == seen[1]
    assert [status for status, _ in seen[1][0]] == [201, 200, 409, 201, 200, 201, 201, 201,
                                                   200, 201]


async def test_a_key_reused_after_its_ttl_is_a_new_request(pool: asyncpg.Pool) -> None:
    """The projector forgets a key by the events' occurred_at, as the API forgets it by its
    clock: a retry within the TTL gets the first answer, a reuse after it is applied."""
    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False, idempotency_ttl_s=60)
    log = [submitted(0, "m-1", text="first", key="k"),
           submitted(1, "m-2", text="retry", key="k", at=T0 + timedelta(seconds=59)),
           submitted(2, "m-3", text="reused later", key="k", at=T0 + timedelta(seconds=121)),
           submitted(3, "m-4", text="reused before", key="k", at=T0 - timedelta(seconds=61))]
    result = await applier.apply(log[:2])
    result.outcomes += (await applier.apply(log[2:])).outcomes
    assert [(o.status, o.body["id"]) for _, o in result.outcomes] == [
        (201, "m-1"), (201, "m-1"), (201, "m-3"), (201, "m-4")]
    ids = {r["id"] for r in await pool.fetch("SELECT id FROM memories")}
    assert ids == {"m-1", "m-3", "m-4"}


async def test_two_workers_on_a_new_partition_apply_its_first_batch_once(
        pool: asyncpg.Pool) -> None:
    """Neither holds a stored position yet: the row is created before it is locked, so the
    second waits for the first and then skips what it applied."""
    batch = [submitted(i, f"m-race-{i}") for i in range(20)]
    first, second = (Applier(pool, "c", HANDLERS, notify_outcomes=False) for _ in range(2))
    results = await asyncio.gather(first.apply(batch), second.apply(batch))
    assert sorted(r.applied for r in results) == [0, 20]
    assert sorted(r.skipped for r in results) == [0, 20]
    assert not any(r.dead_letters for r in results)
    assert await pool.fetchval("SELECT count(*) FROM command_outcomes") == 20


async def test_a_record_past_the_stored_position_is_a_gap(pool: asyncpg.Pool) -> None:
    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False)
    await applier.apply([submitted(0, "m-g0"), submitted(1, "m-g1")])
    with pytest.raises(OffsetGap) as gap:
        await applier.apply([submitted(5, "m-g5")])
    assert (gap.value.expected, gap.value.found) == (2, 5)
    assert await pool.fetchval("SELECT count(*) FROM memories WHERE id = 'm-g5'") == 0
    filled = await applier.apply([submitted(2, "m-g2"), submitted(5, "m-g5")],
                                 holes={(TOPIC, 0): (2, 5)})
    assert filled.applied == 2
    assert await pool.fetchval("SELECT next_offset FROM projection_offsets") == 6
