"""Disaster drills on real Kafka and Postgres (docs/operations.md).

One deployment (embeddings from the OpenAI stub) gets memories, patches, deletes, restores,
duplicates, supersessions, claims with supersession and retraction, and recall events; then
1. a fresh worker group on a fresh database rebuilds the projection from the log alone and
   every row of the six reference tables equals the original, timestamps included;
2. `core backup`, the database is dropped, `core restore` brings back every row of every
   table (the surviving events topic is kept);
3. the database and the topics are lost: `core restore` brings back the rows and the events
   topic record for record, and the restarted system takes new writes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from core.event_archive import export_topic
from tests.support.openai_stub import OpenAIStub
from tests.support.system import REPO, Infra, System, start_system

pytestmark = pytest.mark.integration
REFERENCE_TABLES = {"memories": "id", "claims": "claim_id", "claim_assertions": "assertion_id",
                    "claim_edges": "edge_id", "slot_state": "project_id, subject_id, slot",
                    "memory_recall_events": "event_id"}
PROJECT = f"drill-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def drill(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    system = await start_system(infra, env={"OPENAI_API_KEY": "sk-test",
                                            "OPENAI_BASE_URL": stub.base_url})
    try:
        async with system.client(headers={"x-project-id": PROJECT}) as api:
            await write_history(api)
        await system.wait_projected()
        yield system
    finally:
        system.stop()


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def remember(api: httpx.AsyncClient, subject: str, text: str) -> str:
    body = await ok(await api.post("/api/v1/memories", json={
        "subject_id": subject, "text": text, "extract_claims": False, "tags": ["drill"]}))
    return str(body.get("id") or body.get("memory_id"))


async def write_history(api: httpx.AsyncClient) -> None:
    tea = await remember(api, "u1", "I like green tea in the morning")
    austin = await remember(api, "u1", "I live in Austin")
    await remember(api, "u1", "I live in Austin Texas")  # supersedes (similar text)
    await remember(api, "u1", "I like green tea in the morning")  # duplicate
    gone = await remember(api, "u2", "My dog is called Rex")
    await ok(await api.patch(f"/api/v1/memories/{tea}", json={"importance": 90,
                                                               "text": "I love green tea"}))
    await ok(await api.delete(f"/api/v1/memories/{gone}"))
    await ok(await api.post(f"/api/v1/memories/{austin}/restore"))
    for value in ("blue", "red"):
        await ok(await api.post("/api/v1/claims", json={
            "subject_id": "u1", "predicate": "favorite_color", "object_value": value}))
    latest = await ok(await api.post("/api/v1/claims", json={
        "subject_id": "u1", "predicate": "favorite_color", "object_value": "green"}))
    await ok(await api.post(f"/api/v1/claims/{latest['claim_id']}/retract",
                            json={"reason": "changed my mind"}))
    await ok(await api.post("/api/v1/claims", json={
        "subject_id": "u2", "predicate": "lives_in", "object_value": "Oslo",
        "source_memory_id": gone}))
    for turn in range(2):
        await ok(await api.get("/api/v1/memories/search", params={
            "subject_id": "u1", "q": "green tea", "chat_id": "chat-1", "message_index": turn,
            "min_score": 0}))


async def rows(dsn: str, table: str, order: str, project: str | None = None) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        where = "WHERE project_id = $1" if project else ""
        args = [project] if project else []
        found = await conn.fetch(
            f"SELECT to_jsonb(t)::text AS row FROM {table} t {where} ORDER BY {order}", *args)
        return [r["row"] for r in found]
    finally:
        await conn.close()


async def every_table(dsn: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        tables = [r["name"] for r in await conn.fetch(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name "
            "FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")]
    finally:
        await conn.close()
    return {table: await rows(dsn, table, "1") for table in sorted(tables)}


def core(system: System, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO,
                          env={**system.env(), **(env or {})}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_rebuild_from_the_log_alone_equals_the_projection(drill: System,
                                                                infra: Infra) -> None:
    assert len(await rows(drill.dsn, "memory_recall_events", "1", PROJECT)) >= 2
    assert len(await rows(drill.dsn, "claim_edges", "1", PROJECT)) >= 1
    rebuilt = System(infra, uuid.uuid4().hex[:10],
                     {"CORE_TOPIC_PREFIX": drill.settings().topic_prefix})
    await rebuilt.prepare()
    rebuilt.start_worker()
    try:
        await rebuilt.wait_projected(timeout=120)
    finally:
        rebuilt.stop()
    for table, order in REFERENCE_TABLES.items():
        original = await rows(drill.dsn, table, order, PROJECT)
        assert original, table
        assert await rows(rebuilt.dsn, table, order, PROJECT) == original, table


async def test_database_lost_restore_brings_back_every_row(drill: System,
                                                           tmp_path: Path) -> None:
    before = await every_table(drill.dsn)
    assert "backup written" in core(drill, "backup", "--out", str(tmp_path / "b"))
    refused = subprocess.run([sys.executable, "-m", "core.cli", "restore", "--from",
                              str(tmp_path / "b")], cwd=REPO, env=drill.env(),
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "not empty" in refused.stderr
    drill.stop()
    await drill.recreate_database()
    out = core(drill, "restore", "--from", str(tmp_path / "b"))
    assert "is not empty: kept as is" in out and "within the log" in out
    assert await every_table(drill.dsn) == before
    drill.start_worker()
    drill.start_api()


async def test_everything_lost_restore_brings_back_rows_and_log(drill: System,
                                                                tmp_path: Path) -> None:
    backup = tmp_path / "b"
    core(drill, "backup", "--out", str(backup))
    before = await every_table(drill.dsn)
    drill.stop()
    await drill.recreate_database()
    await delete_topics(drill)
    out = core(drill, "restore", "--from", str(backup))
    records = len((backup / "events.jsonl").read_bytes().splitlines())
    assert f"{records} records re-produced" in out and "WARNING" not in out
    assert await every_table(drill.dsn) == before
    settings = drill.settings()
    await export_topic(settings, settings.events_topic, tmp_path / "after.jsonl")
    assert (tmp_path / "after.jsonl").read_bytes() == (backup / "events.jsonl").read_bytes()
    drill.start_worker()
    drill.start_api()
    async with drill.client(headers={"x-project-id": PROJECT}) as api:
        await remember(api, "u3", "written after the restore")
    await drill.wait_projected()


async def delete_topics(system: System) -> None:
    settings = system.settings()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.resolved_bootstrap())
    await admin.start()
    try:
        names = [settings.events_topic, settings.changes_topic, settings.dlq_topic]
        await admin.delete_topics(names)
        while set(names) & set(await admin.list_topics()):
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
