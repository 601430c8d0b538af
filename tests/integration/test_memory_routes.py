"""Memory routes over HTTP without an embedder: PATCH, DELETE, restore, superseded, claims
(spec §4.1, §5.4–5.9 with §15 Q7, Q8, Q13), the changes they emit, and PATCH/DELETE races."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.support.system import System

pytestmark = pytest.mark.integration
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


async def create(api: httpx.AsyncClient, headers: dict[str, str], text: str = "I like tea",
                 subject: str = "u1", **fields: Any) -> str:
    response = await api.post("/api/v1/memories", headers=headers,
                              json={"subject_id": subject, "text": text,
                                    "extract_claims": False, **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def fetch(api: httpx.AsyncClient, headers: dict[str, str], memory_id: str) -> Any:
    response = await api.get(f"/api/v1/memories/{memory_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


# --- PATCH -------------------------------------------------------------------------------

async def test_patch_changes_fields_and_bumps_updated_at(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers, tags=["old"], metadata={"a": 1})
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={
        "text": "  I like green tea  ", "kind": "preference", "visibility": "shared",
        "importance": 70.9, "confidence": 0.5, "is_temporal": True, "tags": ["drinks", 7],
        "metadata": {"source": "chat"}})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json() == {"id": memory_id, "updated": True}
    data = await fetch(api, headers, memory_id)
    assert {k: data[k] for k in ("text", "kind", "visibility", "importance", "confidence",
                                 "is_temporal", "tags", "metadata")} == {
        "text": "I like green tea", "kind": "preference", "visibility": "shared",
        "importance": 70, "confidence": 0.5, "is_temporal": True, "tags": ["drinks", "7"],
        "metadata": {"source": "chat"}}
    assert ISO_MS.match(data["updated_at"]) and ISO_MS.match(data["created_at"])
    assert data["updated_at"] > data["created_at"]


async def test_patch_coerces_like_the_reference(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers, importance=40, confidence=0.9, tags=["keep"],
                             metadata={"k": "v"})
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={
        "importance": "abc", "confidence": None, "is_temporal": "yes", "tags": "not-a-list",
        "metadata": None})
    assert response.status_code == 200
    data = await fetch(api, headers, memory_id)
    assert (data["importance"], data["confidence"], data["is_temporal"], data["tags"],
            data["metadata"]) == (40, 0, True, ["keep"], {})
    await api.patch(f"/api/v1/memories/{memory_id}", headers=headers,
                    json={"importance": 150, "confidence": 7})
    data = await fetch(api, headers, memory_id)
    assert (data["importance"], data["confidence"]) == (100, 1)


async def test_patch_ignores_fields_that_are_not_patchable(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers)
    before = await fetch(api, headers, memory_id)
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={
        "id": "mem_other", "subject_id": "u2", "status": "superseded", "superseded_by": "x",
        "source_type": "inferred", "is_deleted": True, "project_id": "elsewhere"})
    assert response.status_code == 200
    after = await fetch(api, headers, memory_id)
    unchanged = ("id", "project_id", "subject_id", "status", "superseded_by", "source_type",
                 "text", "created_at")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert after["updated_at"] > before["updated_at"]


@pytest.mark.parametrize("content", [b"", b"  ", b"{}", b"[]", b"123", b'"x"'])
async def test_patch_without_fields_is_a_no_op_update(api: httpx.AsyncClient,
                                                      content: bytes) -> None:
    headers = project()
    memory_id = await create(api, headers)
    before = await fetch(api, headers, memory_id)
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers,
                               content=content)
    assert response.status_code == 200 and response.json() == {"id": memory_id, "updated": True}
    after = await fetch(api, headers, memory_id)
    assert after["updated_at"] > before["updated_at"]
    assert {**after, "updated_at": None} == {**before, "updated_at": None}


@pytest.mark.parametrize(("body", "expected"), [
    (b"{nope", {"error": "invalid_json_body"}),
    (b"null", {"error": "invalid_json_body"}),
    (b"false", {"error": "invalid_json_body"}),
    (b"0", {"error": "invalid_json_body"}),
    (b'""', {"error": "invalid_json_body"}),
    (b'{"text": null}', {"error": "text_required"}),
    (b'{"text": "   "}', {"error": "text_required"}),
    (b'{"kind": null}', {"error": "invalid_kind",
                         "allowed": ["fact", "preference", "context", "note", "event", "trait"]}),
    (b'{"kind": "opinion"}', {"error": "invalid_kind",
                              "allowed": ["fact", "preference", "context", "note", "event",
                                          "trait"]}),
    (b'{"visibility": null}', {"error": "invalid_visibility",
                               "allowed": ["private", "shared", "public"]}),
    (b'{"visibility": "world"}', {"error": "invalid_visibility",
                                  "allowed": ["private", "shared", "public"]}),
    (b'{"is_temporal": null}', {"error": "invalid_is_temporal"}),
    (b'{"is_temporal": "maybe"}', {"error": "invalid_is_temporal"}),
])
async def test_patch_rejects_bad_input_and_changes_nothing(
        api: httpx.AsyncClient, body: bytes, expected: dict[str, Any]) -> None:
    headers = project()
    memory_id = await create(api, headers)
    before = await fetch(api, headers, memory_id)
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, content=body)
    assert response.status_code == 400
    assert response.json() == expected
    assert await fetch(api, headers, memory_id) == before


async def test_patch_text_too_long(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers)
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers,
                               json={"text": "x" * 10_001})
    assert response.status_code == 400
    assert response.json() == {"error": "text_too_long", "max": 10000}
    ok = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers,
                         json={"text": "y" * 10_000})
    assert ok.status_code == 200


async def test_patch_body_is_parsed_before_the_existence_check(api: httpx.AsyncClient) -> None:
    headers = project()
    unknown = f"/api/v1/memories/mem_{uuid.uuid4()}"
    invalid = await api.patch(unknown, headers=headers, content=b"{nope")
    assert invalid.status_code == 400 and invalid.json() == {"error": "invalid_json_body"}
    missing = await api.patch(unknown, headers=headers, json={"text": "x"})
    assert missing.status_code == 404 and missing.json() == {"error": "memory_not_found"}


async def test_patch_unknown_or_foreign_memory_is_not_found(api: httpx.AsyncClient) -> None:
    memory_id = await create(api, project())
    response = await api.patch(f"/api/v1/memories/{memory_id}", headers=project(),
                               json={"text": "hijack"})
    assert response.status_code == 404 and response.json() == {"error": "memory_not_found"}


async def test_patch_deleted_memory(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers)
    await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    for body in ({"text": "again"}, {"kind": None}):
        response = await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json=body)
        assert response.status_code == 404 and response.json() == {"error": "memory_deleted"}


async def test_patch_text_without_embedder_leaves_no_vector(api: httpx.AsyncClient,
                                                            system: System) -> None:
    headers = project()
    memory_id = await create(api, headers)
    await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={"text": "new"})
    conn = await asyncpg.connect(system.dsn)
    try:
        assert await conn.fetchval("SELECT embedding IS NULL FROM memories WHERE id = $1",
                                   memory_id) is True
    finally:
        await conn.close()


async def test_patch_respond_async_then_status_url(api: httpx.AsyncClient,
                                                   system: System) -> None:
    headers = project()
    memory_id = await create(api, headers)
    accepted = await api.patch(f"/api/v1/memories/{memory_id}",
                               headers={**headers, "Prefer": "respond-async"},
                               json={"text": "later"})
    assert accepted.status_code == 202
    await system.wait_projected()
    final = await api.get(accepted.json()["status_url"], headers=headers)
    assert final.status_code == 200 and final.json() == {"id": memory_id, "updated": True}
    assert (await fetch(api, headers, memory_id))["text"] == "later"


# --- DELETE ------------------------------------------------------------------------------

async def test_delete_is_soft_and_never_404s(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers, subject="del")
    kept = await create(api, headers, text="I keep this", subject="del")
    first = await api.request("DELETE", f"/api/v1/memories/{memory_id}", headers=headers,
                              content=b"{not json")
    assert first.status_code == 200 and first.json() == {"ok": True, "deleted": True}
    again = await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    assert again.status_code == 200 and again.json() == {"ok": True, "deleted": False}
    unknown = await api.delete(f"/api/v1/memories/mem_{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 200 and unknown.json() == {"ok": True, "deleted": False}
    gone = await api.get(f"/api/v1/memories/{memory_id}", headers=headers)
    assert gone.status_code == 404 and gone.json() == {"error": "memory_deleted"}
    listed = (await api.get("/api/v1/memories", headers=headers,
                            params={"subject_id": "del"})).json()
    assert [m["id"] for m in listed["data"]] == [kept]
    assert "is_deleted" not in listed["data"][0]


async def test_list_include_deleted_marks_every_row(api: httpx.AsyncClient) -> None:
    headers = project()
    deleted = await create(api, headers, subject="inc")
    kept = await create(api, headers, text="I keep this", subject="inc")
    await api.delete(f"/api/v1/memories/{deleted}", headers=headers)
    listed = (await api.get("/api/v1/memories", headers=headers, params={
        "subject_id": "inc", "include_deleted": "true"})).json()
    assert {m["id"]: m["is_deleted"] for m in listed["data"]} == {deleted: True, kept: False}
    assert all(ISO_MS.match(m["updated_at"]) for m in listed["data"])


async def test_delete_of_another_projects_memory_changes_nothing(api: httpx.AsyncClient) -> None:
    owner = project()
    memory_id = await create(api, owner)
    response = await api.delete(f"/api/v1/memories/{memory_id}", headers=project())
    assert response.json() == {"ok": True, "deleted": False}
    assert (await fetch(api, owner, memory_id))["id"] == memory_id


# --- ids per project (docs/security.md, "Tenancy") -----------------------------------------

async def test_another_project_may_use_the_same_memory_and_claim_ids(
        api: httpx.AsyncClient) -> None:
    """No existence oracle, no squatting: project b's ids are its own."""
    a, b = project(), project()
    memory_id, claim_id = f"mem-{uuid.uuid4().hex[:8]}", f"clm-{uuid.uuid4().hex[:8]}"
    for headers, word in ((a, "tea"), (b, "coffee")):
        await create(api, headers, f"I like {word}", id=memory_id)
        claim = await api.post("/api/v1/claims", headers=headers, json={
            "subject_id": "u1", "claim_id": claim_id, "predicate": "drink",
            "object_value": word, "source_memory_id": memory_id})
        assert claim.status_code == 201, claim.text
    for headers, word in ((a, "tea"), (b, "coffee")):
        assert (await fetch(api, headers, memory_id))["text"] == f"I like {word}"
        got = (await api.get(f"/api/v1/claims/{claim_id}", headers=headers)).json()
        assert got["claim"]["object_value"] == word
        assert [x["value"] for x in (await api.get(f"/api/v1/memories/{memory_id}/claims",
                                                   headers=headers)).json()["data"]] == [word]
    patched = await api.patch(f"/api/v1/memories/{memory_id}", headers=b,
                              json={"text": "I like cocoa"})
    assert patched.status_code == 200
    retracted = await api.post(f"/api/v1/claims/{claim_id}/retract", headers=b, json={})
    assert retracted.status_code == 200
    assert (await fetch(api, a, memory_id))["text"] == "I like tea"
    claim_a = (await api.get(f"/api/v1/claims/{claim_id}", headers=a)).json()["claim"]
    assert claim_a["status"] == "active"


async def test_a_memory_id_is_unique_within_its_project(api: httpx.AsyncClient) -> None:
    headers, memory_id = project(), f"mem-{uuid.uuid4().hex[:8]}"
    await create(api, headers, "first", id=memory_id)
    for subject in ("u1", "u2"):  # same subject: the projector; another: the reservation
        again = await api.post("/api/v1/memories", headers=headers, json={
            "subject_id": subject, "text": "second", "id": memory_id})
        assert again.status_code == 409, again.text
        assert again.json() == {"error": "memory_id_conflict", "id": memory_id}


# --- route order (§4.1) ------------------------------------------------------------------

async def test_route_order_consequences(api: httpx.AsyncClient) -> None:
    headers = project()
    for literal in ("recalls", "superseded", "search", "extract"):
        deleted = await api.delete(f"/api/v1/memories/{literal}", headers=headers)
        assert deleted.status_code == 200 and deleted.json() == {"ok": True, "deleted": False}
    extract = await api.get("/api/v1/memories/extract", headers=headers)
    assert extract.status_code == 404 and extract.json() == {"error": "memory_not_found"}
    bad_body = await api.patch("/api/v1/memories/search", headers=headers, content=b"{nope")
    assert bad_body.status_code == 400 and bad_body.json() == {"error": "invalid_json_body"}
    patched = await api.patch("/api/v1/memories/search", headers=headers, json={"text": "x"})
    assert patched.status_code == 404 and patched.json() == {"error": "memory_not_found"}
    restore = await api.post("/api/v1/memories/recalls/restore", headers=headers)
    assert restore.status_code == 404 and restore.json() == {"error": "memory_not_found"}


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/memories/mem_x"), ("POST", "/api/v1/memories/mem_x/claims"),
    ("GET", "/api/v1/memories/mem_x/restore"), ("PATCH", "/api/v1/memories/mem_x/restore"),
    ("DELETE", "/api/v1/memories"), ("PATCH", "/api/v1/memories/"),
])
async def test_unmatched_memory_paths(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, headers=project())
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "path": path, "method": method}


# --- restore (§5.8) ----------------------------------------------------------------------

async def test_restore_outcomes_without_supersession(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers)
    active = await api.post(f"/api/v1/memories/{memory_id}/restore", headers=headers,
                            content=b"{ignored")
    assert active.status_code == 200
    assert active.json() == {"ok": True, "restored": False, "message": "Memory is already active"}
    foreign = await api.post(f"/api/v1/memories/{memory_id}/restore", headers=project())
    assert foreign.status_code == 404 and foreign.json() == {"error": "memory_not_found"}
    await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    deleted = await api.post(f"/api/v1/memories/{memory_id}/restore", headers=headers)
    assert deleted.status_code == 400
    assert deleted.json() == {"error": "memory_deleted",
                              "message": "Cannot restore a deleted memory"}
    unknown = await api.post(f"/api/v1/memories/mem_{uuid.uuid4()}/restore", headers=headers)
    assert unknown.status_code == 404 and unknown.json() == {"error": "memory_not_found"}


# --- superseded (§5.7) -------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, {"subject_id": "  "}])
async def test_superseded_needs_a_subject(api: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await api.get("/api/v1/memories/superseded", headers=project(), params=params)
    assert response.status_code == 400 and response.json() == {"error": "subject_id_required"}


async def test_superseded_of_a_subject_without_any(api: httpx.AsyncClient) -> None:
    headers = project()
    await create(api, headers)
    response = await api.get("/api/v1/memories/superseded", headers=headers,
                             params={"subject_id": "u1"})
    assert response.status_code == 200 and response.json() == {"data": [], "count": 0}


# --- claims of a memory (§5.9) -----------------------------------------------------------

async def insert_assertions(dsn: str, project_id: str, memory_id: str) -> None:
    """Assertions arrive through the claim routes (another slice); written directly here."""
    t0 = datetime(2025, 3, 1, 10, 22, 33, 123456, tzinfo=UTC)
    conn = await asyncpg.connect(dsn)
    try:
        claim = f"clm_{uuid.uuid4()}"
        await conn.execute(
            "INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, "
            "slot) VALUES ($1, $2, 'u1', 'likes', 'tea', 'likes')", claim, project_id)
        rows = [
            ("ast_s", "string", "tea", None, None, None, 1),
            ("ast_n", "number", None, 4.5, None, None, 3),
            ("ast_d", "date", None, None, t0, None, 2),
            ("ast_j", "json", None, None, None, '{"a": [1]}', 0),
        ]
        for name, kind, text, number, date, blob, minutes in rows:
            await conn.execute(
                "INSERT INTO claim_assertions (assertion_id, project_id, subject_id, claim_id, "
                "memory_id, predicate, object_type, value_string, value_number, value_date, "
                "value_json, confidence, first_seen_at, last_seen_at) VALUES ($1, $2, 'u1', $3, "
                "$4, 'likes', $5, $6, $7, $8, $9::jsonb, 0.7, $10, $11)",
                f"{name}-{uuid.uuid4()}", project_id, claim, memory_id, kind, text, number, date,
                blob, t0, t0 + timedelta(minutes=minutes))
    finally:
        await conn.close()


async def test_claims_of_a_memory(api: httpx.AsyncClient, system: System) -> None:
    headers = project()
    memory_id = await create(api, headers)
    empty = await api.get(f"/api/v1/memories/{memory_id}/claims", headers=headers)
    assert empty.status_code == 200 and empty.json() == {"data": [], "count": 0}
    await insert_assertions(system.dsn, headers["x-project-id"], memory_id)
    other = project()  # the same memory id in another project: its assertions stay there
    await create(api, other, id=memory_id)
    await insert_assertions(system.dsn, other["x-project-id"], memory_id)
    body = (await api.get(f"/api/v1/memories/{memory_id}/claims", headers=headers)).json()
    assert body["count"] == 4
    assert [(a["id"].split("-")[0], a["type"], a["value"]) for a in body["data"]] == [
        ("ast_n", "number", 4.5), ("ast_d", "date", "2025-03-01T10:22:33.123Z"),
        ("ast_s", "string", "tea"), ("ast_j", "json", {"a": [1]})]
    first = body["data"][0]
    assert set(first) == {"id", "predicate", "type", "value", "confidence", "status",
                          "first_seen_at", "last_seen_at"}
    assert (first["predicate"], first["confidence"], first["status"]) == ("likes", 0.7, "active")
    assert first["first_seen_at"] == "2025-03-01T10:22:33.123Z"
    assert first["last_seen_at"] == "2025-03-01T10:25:33.123Z"


async def test_claims_of_missing_or_deleted_memory(api: httpx.AsyncClient) -> None:
    headers = project()
    unknown = await api.get(f"/api/v1/memories/mem_{uuid.uuid4()}/claims", headers=headers)
    assert unknown.status_code == 404 and unknown.json() == {"error": "memory_not_found"}
    memory_id = await create(api, headers)
    foreign = await api.get(f"/api/v1/memories/{memory_id}/claims", headers=project())
    assert foreign.status_code == 404 and foreign.json() == {"error": "memory_not_found"}
    await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    deleted = await api.get(f"/api/v1/memories/{memory_id}/claims", headers=headers)
    assert deleted.status_code == 404 and deleted.json() == {"error": "memory_deleted"}


# --- changes emitted (§10) ---------------------------------------------------------------

async def changes_until(system: System, project_id: str, creations: int,
                        timeout: float = 30.0) -> list[dict[str, Any]]:
    """The project's changes on the changes topic, once `creations` memory.created are in."""
    settings = system.settings()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap(),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.changes_topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [c for c in map(orjson.loads, (m.value for m in messages))
                          if c["project_id"] == project_id]
            if sum(c["type"] == "memory.created" for c in found) >= creations:
                return found
        raise TimeoutError(f"changes of {project_id} incomplete: {found}")
    finally:
        await consumer.stop()


async def test_writes_emit_their_changes(api: httpx.AsyncClient, system: System) -> None:
    headers = project()
    memory_id = await create(api, headers, subject="sse")
    await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={"text": "changed"})
    await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={"kind": "bogus"})
    await api.post(f"/api/v1/memories/{memory_id}/restore", headers=headers)
    await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    await api.delete(f"/api/v1/memories/{memory_id}", headers=headers)
    await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json={"text": "late"})
    marker = await create(api, headers, text="marker", subject="sse")
    # one subject, one partition: everything before the marker's creation is in by then
    found = await changes_until(system, headers["x-project-id"], creations=2)
    assert [(c["type"], c["payload"].get("id")) for c in found] == [
        ("memory.created", memory_id), ("memory.updated", memory_id),
        ("memory.deleted", memory_id), ("memory.created", marker)]
    assert found[1]["payload"] == {"id": memory_id, "subject_id": "sse"}
    assert found[2]["payload"] == {"id": memory_id}
    assert all(c["subject_id"] == "sse" for c in found)


# --- concurrency -------------------------------------------------------------------------

async def test_concurrent_patch_and_delete_serialize(api: httpx.AsyncClient) -> None:
    headers = project()
    for round_no in range(20):
        subject = f"race-{round_no}"
        memory_id = await create(api, headers, text=f"original {round_no}", subject=subject)
        patched, deleted = await asyncio.gather(
            api.patch(f"/api/v1/memories/{memory_id}", headers=headers,
                      json={"text": f"patched {round_no}", "importance": 7}),
            api.delete(f"/api/v1/memories/{memory_id}", headers=headers))
        assert deleted.status_code == 200 and deleted.json() == {"ok": True, "deleted": True}
        gone = await api.get(f"/api/v1/memories/{memory_id}", headers=headers)
        assert gone.status_code == 404 and gone.json() == {"error": "memory_deleted"}
        row = (await api.get("/api/v1/memories", headers=headers, params={
            "subject_id": subject, "include_deleted": "true"})).json()["data"][0]
        assert row["is_deleted"] is True
        if patched.status_code == 200:  # patch, then delete
            assert patched.json() == {"id": memory_id, "updated": True}
            assert (row["text"], row["importance"]) == (f"patched {round_no}", 7)
        else:  # delete, then patch
            assert patched.status_code == 404 and patched.json() == {"error": "memory_deleted"}
            assert (row["text"], row["importance"]) == (f"original {round_no}", 50)
