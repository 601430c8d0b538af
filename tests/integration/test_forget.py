"""Forgetting a subject (issue 20) on real Kafka and Postgres.

A deployment with a master key writes memories, claims, metadata and recalls for two
subjects; the raw records of `core.events` and `core.changes`, read with a plain consumer,
hold none of their words. DELETE /api/v1/subjects/alice then leaves no row of alice in any
table of any schema, destroys her keys, and leaves bob untouched; export redacts her events,
a replay equals the live projection, a restore of a backup taken before the forget does not
bring her back, and a new write for alice starts a new key generation.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from commands.publisher import produce_event
from core.auth.api_keys import create_key
from kernel.ids import uuid7
from kernel.kafka import end_offsets, new_producer
from kernel.shredding import KeyRing
from kernel.timefmt import now_ms
from projections.compare import differing_tables
from schemas.envelope import EventEnvelope
from schemas.memory_events import MEMORY_SUBMITTED, MemorySubmitted
from schemas.sealing import seal_record
from tests.support.openai_stub import OpenAIStub
from tests.support.sse_reader import open_stream
from tests.support.system import REPO, Infra, System, start_system
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
PROJECT = f"forget-{uuid.uuid4().hex[:8]}"
ALICE = f"ALICE{uuid.uuid4().hex[:10]}"
BOB = f"BOB{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
async def deployment(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    system = await start_system(infra, env={
        "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.base_url,
        "CORE_MASTER_KEY": base64.b64encode(os.urandom(32)).decode()})
    try:
        async with system.client(headers={"x-project-id": PROJECT}) as api:
            for subject, marker in (("alice", ALICE), ("bob", BOB)):
                await write_history(api, subject, marker)
        await system.wait_projected()
        yield system
    finally:
        system.stop()


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def write_history(api: httpx.AsyncClient, subject: str, marker: str) -> None:
    first = await ok(await api.post("/api/v1/memories", json={
        "subject_id": subject, "text": f"{marker} drinks green tea every morning",
        "metadata": {"note": f"{marker}-meta"}, "tags": [f"{marker}-tag"]}))
    await ok(await api.post("/api/v1/memories", json={
        "subject_id": subject, "text": f"My name is {marker} and I live in Oslo"}))
    await ok(await api.patch(f"/api/v1/memories/{first['id']}",
                             json={"text": f"{marker} drinks black tea"}))
    await ok(await api.post("/api/v1/claims", json={
        "subject_id": subject, "predicate": "favorite_color",
        "object_value": f"{marker}-blue"}))
    await ok(await api.get("/api/v1/memories/search", params={
        "subject_id": subject, "q": "tea", "chat_id": "chat-1", "min_score": 0}))


def core(system: System, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO,
                          env=system.env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def raw_records(system: System, topic: str) -> list[bytes]:
    """Every record of `topic`, as stored, read with a plain consumer."""
    settings = system.settings()
    ends = await end_offsets(settings, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap(),
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in ends])
        await consumer.seek_to_beginning()
        done = {p for p, end in ends.items() if end == 0}
        while len(done) < len(ends):
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                values += [r.value or b"" for r in records]
                if records and records[-1].offset + 1 >= ends[tp.partition]:
                    done.add(tp.partition)
    finally:
        await consumer.stop()
    return values


async def every_row(dsn: str) -> list[str]:
    """Every row of every table in every schema, as text."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = [r["name"] for r in await conn.fetch(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name "
            "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")]
        found: list[str] = []
        for table in tables:
            found += [f"{table}: {r[0]}" for r in await conn.fetch(
                f"SELECT t::text FROM {table} t")]
        return found
    finally:
        await conn.close()


async def subject_rows(dsn: str, subject: str) -> dict[str, int]:
    """Rows naming the subject, per table (tables with project and subject columns), besides
    the forget's own tombstone (its timeline row and its answer)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name "
            "FROM information_schema.columns WHERE column_name = 'subject_id' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_name NOT IN ('subject_keys')")
        counts: dict[str, int] = {}
        for table in {r["name"] for r in tables}:
            extra = "AND type <> 'subject.forgotten'" if table.endswith("subject_events") \
                else "AND event_type <> 'subject.forgotten'" \
                if table.endswith("command_outcomes") else ""
            counts[table] = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE project_id = $1 AND subject_id = $2 "
                f"{extra}", PROJECT, subject)
        return counts
    finally:
        await conn.close()


async def keys_of(dsn: str, subject: str) -> list[tuple[int, bool]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(r["generation"], r["wrapped_key"] is not None) for r in await conn.fetch(
            "SELECT generation, wrapped_key FROM subject_keys WHERE project_id = $1 "
            "AND subject_id = $2 ORDER BY generation", PROJECT, subject)]
    finally:
        await conn.close()


def holds(rows: list[str], marker: str) -> list[str]:
    return [r for r in rows if marker in r]


async def test_the_log_holds_no_plaintext_of_any_subject(deployment: System) -> None:
    settings = deployment.settings()
    events = await raw_records(deployment, settings.events_topic)
    changes = await raw_records(deployment, settings.changes_topic)
    assert len(events) >= 10 and changes
    for marker in (ALICE, BOB):
        assert [r for r in events if marker.encode() in r] == []
        assert [r for r in changes if marker.encode() in r] == []
    assert holds(await every_row(deployment.dsn), ALICE)  # the projection reads them


async def test_forgetting_erases_the_subject_and_keeps_the_other(deployment: System,
                                                                 tmp_path: Path) -> None:
    assert "backup written" in core(deployment, "backup", "--out", str(tmp_path / "before"))
    bob_before = [r for r in await every_row(deployment.dsn) if BOB in r]
    assert await keys_of(deployment.dsn, "alice") == [(1, True)]
    async with deployment.client(headers={"x-project-id": PROJECT}) as api:
        forgot = await api.delete("/api/v1/subjects/alice")
        assert forgot.status_code == 200, forgot.text
        assert forgot.json() == {"ok": True, "forgotten": True, "subject_id": "alice"}
        listed = await ok(await api.get("/api/v1/memories", params={"subject_id": "alice"}))
        assert BOB in str(await ok(await api.get("/api/v1/memories",
                                                  params={"subject_id": "bob"})))
    assert ALICE not in str(listed)
    await deployment.wait_projected()
    assert holds(await every_row(deployment.dsn), ALICE) == []
    assert set((await subject_rows(deployment.dsn, "alice")).values()) == {0}
    assert await keys_of(deployment.dsn, "alice") == [(1, False)]
    assert [r for r in await every_row(deployment.dsn) if BOB in r] == bob_before

    exported = core(deployment, "events", "export", "--project", PROJECT)
    assert ALICE not in exported and BOB in exported
    assert '"redacted":"subject_forgotten"' in exported

    schema = f"replay_{uuid.uuid4().hex[:8]}"
    core(deployment, "replay", "--schema", schema)
    await assert_replay_equal(deployment, schema)
    assert holds(await every_row(deployment.dsn), ALICE) == []

    await restore_older_backup(deployment, tmp_path / "before")
    rows = await every_row(deployment.dsn)
    assert holds(rows, ALICE) == []
    assert set((await subject_rows(deployment.dsn, "alice")).values()) == {0}
    assert await keys_of(deployment.dsn, "alice") == [(1, False)]
    assert [r for r in rows if BOB in r and not r.startswith('"replay_')]


async def assert_replay_equal(system: System, schema: str) -> None:
    conn = await asyncpg.connect(system.dsn)
    try:
        differing = await differing_tables(conn, "public", schema, PROJECT)
        shown = {}
        for table in differing:
            live, replayed = [{r[0] for r in await conn.fetch(
                f'SELECT t::text FROM "{s}".{table} t WHERE project_id = $1', PROJECT)}
                for s in ("public", schema)]
            shown[table] = (sorted(live - replayed), sorted(replayed - live))
        assert differing == [], shown
    finally:
        await conn.close()


async def restore_older_backup(system: System, backup: Path) -> None:
    system.stop()
    await system.recreate_database()
    core(system, "restore", "--from", str(backup))
    system.start_worker()
    system.start_api()
    await system.wait_projected(timeout=120)


async def test_a_write_after_the_forget_starts_a_new_generation(deployment: System) -> None:
    async with deployment.client(headers={"x-project-id": PROJECT}) as api:
        await ok(await api.delete("/api/v1/subjects/carol"))
        again = await ok(await api.post("/api/v1/memories", json={
            "subject_id": "alice", "text": "alice came back and likes coffee"}))
        found = await ok(await api.get(f"/api/v1/memories/{again['id']}"))
    assert found["data"]["text"] == "alice came back and likes coffee"
    assert await keys_of(deployment.dsn, "alice") == [(1, False), (2, True)]
    await deployment.wait_projected()
    schema = f"replay_{uuid.uuid4().hex[:8]}"
    core(deployment, "replay", "--schema", schema)
    await assert_replay_equal(deployment, schema)


async def test_forgetting_needs_its_scope(deployment: System) -> None:
    conn = await asyncpg.connect(deployment.dsn)
    try:
        _, writer = await create_key(conn, name="writer", projects=[PROJECT],
                                     scopes=["memories:write", "memories:read"])
        _, forgetter = await create_key(conn, name="forgetter", projects=[PROJECT],
                                        scopes=["subjects:forget"])
    finally:
        await conn.close()
    headers = {"x-project-id": PROJECT}
    async with httpx.AsyncClient(base_url=deployment.url, headers=headers) as api:
        refused = await api.delete("/api/v1/subjects/dave", headers={"x-api-key": writer})
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"
        assert refused.json()["required_scope"] == "subjects:forget"
        allowed = await api.delete("/api/v1/subjects/dave", headers={"x-api-key": forgetter})
        assert allowed.status_code == 200, allowed.text


async def test_streams_open_sealed_changes_and_announce_a_forget_on_request(
        deployment: System) -> None:
    async with open_stream(deployment, PROJECT, subject="frank",
                           include="subject.forgotten") as asked, \
            open_stream(deployment, PROJECT, subject="frank") as plain:
        assert (await asked.frame()).event == "connected"
        assert (await plain.frame()).event == "connected"
        async with deployment.client(headers={"x-project-id": PROJECT}) as api:
            await ok(await api.post("/api/v1/memories", json={
                "subject_id": "frank", "text": "frank likes sailing"}))
            for stream in (asked, plain):
                created = await stream.event()
                assert created.event == "memory.created"
                assert created.data["text"] == "frank likes sailing"
            await ok(await api.delete("/api/v1/subjects/frank"))
        forgotten = await asked.event()
        assert forgotten.event == "subject.forgotten"
        assert forgotten.data == {"subject_id": "frank"}
        assert [f.event for f in await plain.quiet(1)] == []


async def test_a_write_sealed_before_the_forget_and_logged_after_it_is_refused(
        deployment: System) -> None:
    settings = deployment.settings()
    ring = KeyRing.from_settings(settings)
    assert ring is not None
    pool = await asyncpg.create_pool(deployment.dsn, min_size=1, max_size=2)
    producer = new_producer(settings)
    await producer.start()
    try:
        generation, key = await ring.write_key(pool, PROJECT, "erin")  # the write takes it
        async with deployment.client(headers={"x-project-id": PROJECT}) as api:
            await ok(await api.delete("/api/v1/subjects/erin"))  # ... the forget ends it

        async def stale_seal(data: dict[str, Any], id_field: str) -> dict[str, Any]:
            return seal_record(data, id_field, generation, key)

        event = EventEnvelope(
            event_id=uuid7(), type=MEMORY_SUBMITTED, v=1, project_id=PROJECT,
            subject_id="erin", occurred_at=now_ms(), actor="test",
            payload=MemorySubmitted(id=f"mem_{uuid.uuid4()}", text="erin raced").model_dump())
        await produce_event(producer, settings.events_topic, event, stale_seal)

        async def answered() -> Any:
            return await pool.fetchrow("SELECT status, body::text AS body FROM "
                                       "command_outcomes WHERE event_id = $1", event.event_id)

        outcome = await wait_until(answered, "an answer for the racing write")
        assert outcome["status"] == 410 and "subject_forgotten" in outcome["body"]
        assert await pool.fetchval("SELECT count(*) FROM memories WHERE project_id = $1 "
                                   "AND subject_id = 'erin'", PROJECT) == 0
    finally:
        await producer.stop()
        await pool.close()


async def test_rotating_the_master_key_keeps_every_subject_readable(
        deployment: System) -> None:
    new_key = base64.b64encode(os.urandom(32)).decode()
    done = subprocess.run([sys.executable, "-m", "core.cli", "keys", "rotate-master"],
                          cwd=REPO, env={**deployment.env(), "CORE_NEW_MASTER_KEY": new_key},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "data keys re-wrapped" in done.stdout
    deployment.stop()
    deployment.env_overrides["CORE_MASTER_KEY"] = new_key
    deployment.start_worker()
    deployment.start_api()
    async with deployment.client(headers={"x-project-id": PROJECT}) as api:
        await ok(await api.post("/api/v1/memories", json={
            "subject_id": "bob", "text": f"{BOB} rotated fine"}))
    await deployment.wait_projected()
    schema = f"replay_{uuid.uuid4().hex[:8]}"
    core(deployment, "replay", "--schema", schema)
    await assert_replay_equal(deployment, schema)
    exported = core(deployment, "events", "export", "--project", PROJECT, "--subject", "bob")
    assert f"{BOB} rotated fine" in exported and f"{BOB} drinks black tea" in exported
