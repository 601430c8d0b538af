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


def claim(n: str, memory_id: str, slot: str = "likes", value: str = "tea",
          **extra: object) -> dict[str, object]:
    return {"claim_id": f"clm-{n}", "assertion_id": f"ast-{n}", "predicate": slot,
            "object_value": value, "slot": slot, "source_memory_id": memory_id, **extra}


def with_claims(partition: int, offset: int, memory_id: str, subject: str,
                claims: list[dict[str, object]], minute: int, text: str = "") -> Record:
    body = {"event_id": str(uuid.uuid4()), "type": "memory.submitted", "v": 2,
            "project_id": "p", "subject_id": subject,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(), "actor": "test",
            "idempotency_key": None,
            "payload": {"id": memory_id, "text": text or f"memory {memory_id}",
                        "claims": claims}}
    return Record(TOPIC, partition, offset, subject.encode(), orjson.dumps(body))


def asserted(partition: int, offset: int, subject: str, n: str, minute: int) -> Record:
    body = {"event_id": str(uuid.uuid4()), "type": "claim.asserted", "v": 1,
            "project_id": "p", "subject_id": subject,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(), "actor": "test",
            "idempotency_key": None,
            "payload": {"claim_id": f"clm-{n}", "assertion_id": f"ast-{n}",
                        "predicate": "likes", "object_value": "water", "slot": "likes"}}
    return Record(TOPIC, partition, offset, subject.encode(), orjson.dumps(body))


def claims_log() -> tuple[list[Record], list[Record]]:
    """Two batches over two partitions: slots won, superseded within a run and across
    batches and handlers, two slots in one memory, a duplicate and a conflicting memory
    whose claims must not land, an embedding, tags and validity."""
    vector = [0.5] * 1535 + [0.25]
    first = [with_claims(0, 0, "m-0", "a", [claim("0", "m-0")], 0),
             with_claims(1, 0, "m-b0", "b", [claim("b0", "m-b0", "city", "Porto")], 0)]
    second = [
        with_claims(0, 1, "m-1", "a", [claim("1", "m-1", value="coffee"),
                                        claim("2", "m-1", "city", "Lisbon",
                                              tags=["home"], embedding=vector,
                                              valid_from="2025-01-01T00:00:00Z")], 1),
        with_claims(0, 2, "m-2", "a", [claim("3", "m-2", value="juice")], 2),
        with_claims(1, 1, "m-b1", "b", [claim("b1", "m-b1", "city", "Faro")], 2),
        with_claims(0, 3, "m-3", "a", [claim("4", "m-3", value="juice again")], 3,
                    text="memory m-2"),  # an exact re-post: a duplicate, no claims
        with_claims(0, 4, "m-1", "a", [claim("5", "m-1", value="milk")], 4),  # id taken
        asserted(0, 5, "a", "6", 5),  # another handler cuts the run
        with_claims(0, 6, "m-7", "a", [claim("7", "m-7", value="soda")], 6),
        with_claims(1, 2, "m-b2", "b", [claim("b2", "m-b2", "city", "Braga"),
                                         claim("b3", "m-b2", "city", "Evora")], 6),
    ]
    return first, second


async def test_claim_runs_write_what_the_per_event_path_writes(infra: Infra) -> None:
    first, second = claims_log()
    seen = []
    for batchers in ({}, BATCHERS):
        async with fresh_pool(infra) as pool:
            applier = Applier(pool, "c", HANDLERS, notify_outcomes=False, batchers=batchers)
            outcomes = []
            for batch in (first, second):
                result = await applier.apply(batch)
                assert not result.guarded, [(o.status, o.body) for _, o in result.outcomes]
                outcomes += [(o.status, o.body) for _, o in result.outcomes]
            tables = {}
            for table, order in (("claims", "claim_id"), ("claim_assertions", "assertion_id"),
                                 ("slot_state", "subject_id, slot"),
                                 ("claim_edges", "edge_id"),
                                 ("edge_counters", "partition"),
                                 ("outbox", "id")):
                rows = await pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")
                tables[table] = [{k: v for k, v in r.items() if k not in ("id", "enqueued_at")}
                                 for r in rows]
            seen.append((outcomes, tables))
    assert seen[0][0] == seen[1][0]
    for table in seen[0][1]:
        assert seen[0][1][table] == seen[1][1][table], table
    outcomes, tables = seen[1]
    assert [status for status, _ in outcomes] == [201, 201, 201, 201, 201, 200, 409, 201,
                                                  201, 201]
    assert len(tables["claims"]) == 10 and len(tables["claim_edges"]) == 7
    winners = {(r["subject_id"], r["slot"]): r["active_claim_id"] for r in tables["slot_state"]}
    assert winners == {("a", "likes"): "clm-7", ("a", "city"): "clm-2",
                       ("b", "city"): "clm-b3"}
    assert {(r["partition"], r["next_edge"]) for r in tables["edge_counters"]} == {(0, 4),
                                                                                   (1, 3)}


async def test_a_run_with_tags_of_any_lengths_stays_one_statement(pool: asyncpg.Pool) -> None:
    """Tags travel as JSON text: a list would be taken for an array dimension (refused when
    lengths differ, mis-split when they match) and send the batch down the guarded path."""
    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False, batchers=BATCHERS)
    tags = [["x", "y"], [], ["z"], ["u", "v"]]
    result = await applier.apply([submitted(i, f"m-{i}", tags=t) for i, t in enumerate(tags)])
    assert not result.guarded
    stored = await pool.fetch("SELECT tags FROM memories ORDER BY id")
    assert [r["tags"] for r in stored] == tags


async def test_tables_a_batch_reads_are_analyzed_while_they_grow(pool: asyncpg.Pool) -> None:
    """A new database's plans were made for empty tables; the growth analyzer refreshes the
    statistics of every table a batch reads, not only the memories and claims."""
    from projections.maintenance import GrowthAnalyzer, note_applied

    applier = Applier(pool, "c", HANDLERS, notify_outcomes=False, batchers=BATCHERS)
    records = [submitted(i, f"m-{i}", subject=f"s{i % 50}") for i in range(400)]
    for start in range(0, 400, 100):
        await applier.apply(records[start:start + 100])
    note_applied(len(records))
    analyzer = GrowthAnalyzer(pool, growth=0.2, check_s=0.1)
    task = asyncio.create_task(analyzer.run())

    async def analyzed() -> set[str]:
        rows = await pool.fetch("SELECT relname FROM pg_stat_user_tables WHERE "
                                "last_analyze IS NOT NULL")
        return {r["relname"] for r in rows}

    try:
        async with asyncio.timeout(60):
            while not {"memories", "subjects", "subject_events"} <= await analyzed():
                await asyncio.sleep(0.2)  # statistics arrive on their own schedule
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
