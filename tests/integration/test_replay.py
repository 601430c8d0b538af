"""Replay is exact: a mixed workload through the live system, replayed into a new schema,
gives the same tables row by row (timestamps included); a replay "as of" a moment shows what
CORE believed then; a rebuild switches the live projection without losing a write."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from projections.compare import differing_tables, digests
from tests.support.openai_stub import OpenAIStub
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def history(infra: Infra) -> AsyncIterator[System]:
    stub = OpenAIStub().start()
    system = await start_system(infra, env={"OPENAI_API_KEY": "test",
                                            "OPENAI_BASE_URL": stub.base_url})
    try:
        yield system
    finally:
        system.stop()
        stub.stop()


def cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **system.env()}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


async def post(client: httpx.AsyncClient, path: str, body: object, project: str,
               method: str = "POST") -> httpx.Response:
    response = await client.request(method, path, json=body, headers={"x-project-id": project})
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response


async def mixed_workload(client: httpx.AsyncClient, project: str) -> None:
    for subject in ("alice", "bob"):
        first = (await post(client, "/api/v1/memories", {
            "subject_id": subject, "text": "I live in Austin Texas near the river"},
            project)).json()
        await post(client, "/api/v1/memories", {
            "subject_id": subject, "text": "I live in Denver Colorado near the river"}, project)
        await post(client, "/api/v1/memories", {
            "subject_id": subject, "text": "I live in Denver Colorado near the river"}, project)
        await post(client, f"/api/v1/memories/{first['id']}/restore", {}, project)
        other = (await post(client, "/api/v1/memories", {
            "subject_id": subject, "text": "My favorite color is yellow and I work at Acme",
            "tags": ["a", "b"], "metadata": {"k": [1, 2]}}, project)).json()
        await post(client, f"/api/v1/memories/{other['id']}", {"text": "I drink tea daily",
                                                               "importance": 80}, project, "PATCH")
        await post(client, f"/api/v1/memories/{first['id']}", None, project, "DELETE")
        claims = [(await post(client, "/api/v1/claims", {
            "subject_id": subject, "predicate": "favorite_food", "object_value": food},
            project)).json()["claim_id"] for food in ("pizza", "sushi", "tacos")]
        await post(client, f"/api/v1/claims/{claims[2]}/retract", {"reason": "changed"}, project)
        await post(client, f"/api/v1/claims/{claims[0]}/retract", {}, project)
        await post(client, "/api/v1/memories/extract?learn=true", {
            "subject_id": subject, "text": "My name is Sam and I live in Paris"}, project)
        await client.get("/api/v1/memories/search", headers={"x-project-id": project},
                         params={"subject_id": subject, "q": "where do I live", "chat_id": "c1"})


async def test_replay_rebuilds_identical_tables(history: System) -> None:
    project = f"det-{uuid.uuid4().hex[:6]}"
    async with history.client() as client:
        await mixed_workload(client, project)
    await asyncio.sleep(1.0)  # background claim extraction produces more events
    await history.wait_projected()
    replayed = cli(history, "replay", "--schema", f"replay_{uuid.uuid4().hex[:8]}")
    assert replayed.returncode == 0, replayed.stderr
    schema = replayed.stdout.split("into schema ")[1].split()[0]
    conn = await asyncpg.connect(history.dsn)
    try:
        live = await digests(conn, "public", project)
        rows = await conn.fetch("SELECT subject_id, text, status, is_deleted, source_type "
                                "FROM memories WHERE project_id = $1", project)
        assert live["memories"].rows >= 6, [tuple(r) for r in rows]
        assert live["claims"].rows >= 6
        assert live["claim_edges"].rows >= 4 and live["memory_recall_events"].rows >= 1
        assert await differing_tables(conn, "public", schema) == []
    finally:
        await conn.close()
    assert "events/s" in replayed.stdout


async def test_an_id_taken_by_another_subject_replays_equal(history: System) -> None:
    """Two subjects sit in two partitions, applied in no fixed order: of concurrent writes
    of one id by three subjects, one wins and the others must not reach the log, or a
    replay could let another one win."""
    project, memory_id, claim_id = (f"ids-{uuid.uuid4().hex[:6]}", f"m-{uuid.uuid4().hex[:6]}",
                                    f"c-{uuid.uuid4().hex[:6]}")
    subjects = ("alice", "bob", "carol")
    async with history.client(headers={"x-project-id": project}) as client:
        memories = await asyncio.gather(*(client.post("/api/v1/memories", json={
            "subject_id": s, "text": f"{s} was here", "id": memory_id}) for s in subjects))
        claims = await asyncio.gather(*(client.post("/api/v1/claims", json={
            "subject_id": s, "claim_id": claim_id, "predicate": "p", "object_value": s})
            for s in subjects))
    for responses in (memories, claims):
        assert sorted(r.status_code for r in responses) == [201, 409, 409]
    await history.wait_projected()
    replayed = cli(history, "replay", "--schema", f"replay_{uuid.uuid4().hex[:8]}")
    assert replayed.returncode == 0, replayed.stderr
    schema = replayed.stdout.split("into schema ")[1].split()[0]
    conn = await asyncpg.connect(history.dsn)
    try:
        assert await differing_tables(conn, "public", schema, project) == []
        for taken in (memory_id, claim_id):
            logged = await conn.fetch(
                "SELECT subject_id FROM subject_events WHERE project_id = $1 "
                "AND coalesce(payload->>'id', payload->>'claim_id') = $2", project, taken)
            assert len(logged) == 1, [r["subject_id"] for r in logged]
    finally:
        await conn.close()


async def test_replay_as_of_shows_the_earlier_state(history: System) -> None:
    project = f"asof-{uuid.uuid4().hex[:6]}"
    headers = {"x-project-id": project}
    async with history.client() as client:
        memory = (await post(client, "/api/v1/memories", {
            "subject_id": "carol", "text": "I work at Acme as an engineer"}, project)).json()
        claim = (await post(client, "/api/v1/claims", {
            "subject_id": "carol", "predicate": "works_at", "object_value": "Acme"},
            project)).json()
        await history.wait_projected()
        moment = datetime.now(UTC)
        await asyncio.sleep(0.05)
        newer = (await post(client, "/api/v1/memories", {
            "subject_id": "carol", "text": "I work at Globex as an engineer"}, project)).json()
        assert newer["superseded_ids"] == [memory["id"]]
        await post(client, f"/api/v1/claims/{claim['claim_id']}/retract", {}, project)
        await history.wait_projected()

        schema = f"asof_{uuid.uuid4().hex[:8]}"
        done = cli(history, "replay", "--schema", schema, "--until", moment.isoformat(),
                   "--project", project)
        assert done.returncode == 0, done.stderr
        as_of = {**headers, "x-core-as-of-schema": schema}
        then = (await client.get(f"/api/v1/memories/{memory['id']}", headers=as_of)).json()
        now = (await client.get(f"/api/v1/memories/{memory['id']}", headers=headers)).json()
        assert then["data"]["status"] == "active" and now["data"]["status"] == "superseded"
        truth_then = (await client.get("/api/v1/claims/subject/carol/truth",
                                       headers=as_of)).json()
        truth_now = (await client.get("/api/v1/claims/subject/carol/truth",
                                      headers=headers)).json()
        assert [s["active_claim_id"] for s in truth_then["slots"]] == [claim["claim_id"]]
        assert truth_now["slots"] == []
        missing = await client.get(f"/api/v1/memories/{newer['id']}", headers=as_of)
        assert missing.status_code == 404
        refused = await client.post("/api/v1/memories", headers=as_of,
                                    json={"subject_id": "carol", "text": "x"})
        assert refused.status_code == 400 and refused.json()["error"] == "read_only_schema"


async def test_export_filters_by_subject_and_type(history: System, tmp_path) -> None:  # noqa: ANN001
    project = f"exp-{uuid.uuid4().hex[:6]}"
    async with history.client() as client:
        for text in ("one thing", "another thing entirely"):
            await post(client, "/api/v1/memories", {"subject_id": "dave", "text": text}, project)
        await post(client, "/api/v1/claims", {"subject_id": "dave", "predicate": "p",
                                              "object_value": "v"}, project)
    out = tmp_path / "events.jsonl"
    done = cli(history, "events", "export", "--project", project, "--subject", "dave",
               "--type", "memory.submitted", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["payload"]["text"] for line in lines] == ["one thing", "another thing entirely"]
    assert {"topic", "partition", "offset", "event_id", "v"} <= set(lines[0])


async def test_subject_timeline_pages_in_order(history: System) -> None:
    project = f"tl-{uuid.uuid4().hex[:6]}"
    headers = {"x-project-id": project, "Idempotency-Key": ""}
    async with history.client() as client:
        for i in range(3):
            await post(client, "/api/v1/memories", {"subject_id": "erin", "text": f"fact {i}"},
                       project)
        await history.wait_projected()
        del headers["Idempotency-Key"]
        page = (await client.get("/api/v1/subjects/erin/timeline", headers=headers,
                                 params={"limit": 2})).json()
        rest = (await client.get("/api/v1/subjects/erin/timeline", headers=headers,
                                 params={"after": page["next_after"]})).json()
    events = page["data"] + rest["data"]
    assert [e["payload"]["text"] for e in events] == ["fact 0", "fact 1", "fact 2"]
    assert all(e["type"] == "memory.submitted" and e["outcome_status"] == 201 for e in events)
    assert "embedding" not in events[0]["payload"]
