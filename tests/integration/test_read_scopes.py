"""Reads return only what the caller's scopes allow (docs/security.md, "Scopes and tenancy"):
command outcomes for their issuer or the read scope of their kind, timeline payloads by
read scope, claim changes on SSE only with `claims:read`, JWT subjects never act as keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import jwt
import orjson
import pytest

from core.auth.api_keys import create_key
from tests.support.system import System

pytestmark = pytest.mark.integration
PROJECT = f"scopes-{uuid.uuid4().hex[:6]}"
SECRET = "jwt-secret-for-the-scope-tests-0123456789"
ROLES = {
    "writer": ["memories:write"],
    "other_writer": ["memories:write"],
    "claim_writer": ["claims:write"],
    "memory_reader": ["memories:read"],
    "claim_reader": ["claims:read"],
    "events": ["events:read"],
    "events_memories": ["events:read", "memories:read", "memories:write"],
    "events_claims": ["events:read", "claims:read"],
    "admin": ["admin"],
}


class Keys(dict[str, str]):
    ids: dict[str, str]


@pytest.fixture(scope="module")
async def keys(system: System) -> Keys:
    conn = await asyncpg.connect(system.dsn)
    made, ids = Keys(), {}
    try:
        for role, scopes in ROLES.items():
            ids[role], made[role] = await create_key(conn, name=role, projects=[PROJECT],
                                                     scopes=scopes)
    finally:
        await conn.close()
    made.ids = ids
    return made


@pytest.fixture
async def client(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as started:
        yield started


def as_(keys: Keys, role: str, **extra: str) -> dict[str, str]:
    return {"x-project-id": PROJECT, "x-api-key": keys[role], **extra}


async def accepted(client: httpx.AsyncClient, headers: dict[str, str], path: str,
                   body: dict[str, Any]) -> str:
    response = await client.post(path, headers={**headers, "Prefer": "respond-async"},
                                 json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["status_url"])


def hidden(response: httpx.Response, status_url: str) -> bool:
    """Answered as an unknown command: pending while the id is fresh, nothing else."""
    event_id = status_url.rsplit("/", 1)[1]
    return response.status_code == 202 and response.json() == {
        "status": "pending", "event_id": event_id}


async def test_command_status_for_its_issuer_or_the_read_scope_of_its_kind(
        system: System, keys: Keys, client: httpx.AsyncClient) -> None:
    memory_url = await accepted(client, as_(keys, "writer"), "/api/v1/memories",
                                {"subject_id": "cmd", "text": "a write-only secret"})
    claim_url = await accepted(client, as_(keys, "claim_writer"), "/api/v1/claims",
                               {"subject_id": "cmd", "predicate": "pin", "object_value": "4321"})
    await system.wait_projected()
    for role in ("writer", "memory_reader", "admin"):
        seen = await client.get(memory_url, headers=as_(keys, role))
        assert seen.status_code == 201 and seen.json()["id"], (role, seen.text)
    for role in ("other_writer", "claim_reader", "claim_writer"):
        seen = await client.get(memory_url, headers=as_(keys, role))
        assert hidden(seen, memory_url) and "secret" not in seen.text, (role, seen.text)
    for role in ("claim_writer", "claim_reader", "admin"):
        seen = await client.get(claim_url, headers=as_(keys, role))
        assert seen.status_code == 201 and "claim_id" in seen.json(), (role, seen.text)
    for role in ("writer", "memory_reader"):
        assert hidden(await client.get(claim_url, headers=as_(keys, role)), claim_url), role


async def test_an_old_hidden_command_is_a_plain_404(system: System, keys: Keys,
                                                    client: httpx.AsyncClient) -> None:
    event_id = "0192a000-0000-7000-8000-00000000abcd"  # accepted long ago (uuid7 time)
    conn = await asyncpg.connect(system.dsn)
    try:
        await conn.execute(
            "INSERT INTO command_outcomes (event_id, project_id, event_type, status, body, "
            "decided_at, actor) VALUES ($1, $2, 'memory.deleted', 200, $3, now(), $4)",
            event_id, PROJECT, '{"ok": true, "deleted": true}', keys.ids["writer"])
    finally:
        await conn.close()
    url = f"/api/v1/commands/{event_id}"
    assert (await client.get(url, headers=as_(keys, "writer"))).json() == {
        "ok": True, "deleted": True}
    unknown = await client.get(url.replace("abcd", "abce"), headers=as_(keys, "claim_reader"))
    other = await client.get(url, headers=as_(keys, "claim_reader"))
    assert (other.status_code, other.json()) == (unknown.status_code, unknown.json()) == (
        404, {"error": "command_not_found"})


async def test_timeline_shows_only_what_the_caller_may_read(
        system: System, keys: Keys, client: httpx.AsyncClient) -> None:
    subject = f"tl-{uuid.uuid4().hex[:6]}"
    admin = as_(keys, "admin", **{"Idempotency-Key": f"admins-{subject}"})
    memory = (await client.post("/api/v1/memories", headers=admin, json={
        "subject_id": subject, "text": "deleted diary entry", "extract_claims": False})).json()
    await client.post("/api/v1/claims", headers=as_(keys, "admin"), json={
        "subject_id": subject, "predicate": "pin", "object_value": "9876"})
    await client.delete(f"/api/v1/memories/{memory['id']}", headers=as_(keys, "admin"))
    own = as_(keys, "events_memories", **{"Idempotency-Key": f"mine-{subject}"})
    await client.post("/api/v1/memories", headers=own, json={
        "subject_id": subject, "text": "my own note", "extract_claims": False})
    await system.wait_projected()

    async def timeline(role: str) -> list[dict[str, Any]]:
        response = await client.get(f"/api/v1/subjects/{subject}/timeline",
                                    headers=as_(keys, role))
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    events_only = await timeline("events")
    assert [e["type"] for e in events_only] == [
        "memory.submitted", "claim.asserted", "memory.deleted", "memory.submitted"]
    assert all(e["payload"] is None and e["redacted"] for e in events_only)
    assert all(e["actor"] is None and e["idempotency_key"] is None for e in events_only)
    assert "diary" not in str(events_only) and "9876" not in str(events_only)

    memories = await timeline("events_memories")
    assert [e["payload"] is None for e in memories] == [False, True, False, False]
    assert memories[0]["payload"]["text"] == "deleted diary entry"
    assert [e["idempotency_key"] for e in memories] == [None, None, None, f"mine-{subject}"]
    assert "9876" not in str(memories)

    claims = await timeline("events_claims")
    assert [e.get("redacted", False) for e in claims] == [True, False, True, True]
    assert claims[1]["payload"]["object_value"] == "9876"

    everything = await timeline("admin")
    assert not any(e.get("redacted") for e in everything)
    assert [e["actor"] for e in everything] == [keys.ids["admin"]] * 3 + [
        keys.ids["events_memories"]]
    assert [e["idempotency_key"] for e in everything] == [f"admins-{subject}", None, None, None]


async def test_sse_needs_the_read_scope_of_what_it_streams(keys: Keys,
                                                           client: httpx.AsyncClient) -> None:
    path = "/api/v1/events/memories"
    async with client.stream("GET", path, params={"include": "claims"},
                             headers=as_(keys, "events")) as refused:
        assert refused.status_code == 403  # checked before reading: a stream never ends
        assert orjson.loads(await refused.aread()) == {
            "error": "insufficient_scope", "required_scope": "claims:read"}
    async with client.stream("GET", path, headers=as_(keys, "events")) as refused:
        assert refused.status_code == 403  # memory events carry the memories' text
        assert orjson.loads(await refused.aread()) == {
            "error": "insufficient_scope", "required_scope": "memories:read"}
    for role, params in (("events_memories", {}), ("events_memories", {"include": "nothing"}),
                         ("admin", {"include": "claims"})):
        async with client.stream("GET", path, params=params, headers=as_(keys, role)) as stream:
            assert stream.status_code == 200, (role, params)
            assert await stream.aiter_lines().__anext__() == "event: connected"


def token(**claims: object) -> str:
    now = int(time.time())
    body = {"iat": now, "exp": now + 600, "projects": [PROJECT], **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET,
                      algorithm="HS256")


async def test_a_jwt_subject_never_acts_as_an_api_key(system: System, keys: Keys,
                                                      client: httpx.AsyncClient) -> None:
    status_url = await accepted(client, as_(keys, "writer"), "/api/v1/memories",
                                {"subject_id": "jwt", "text": "only for the writer key"})
    await system.wait_projected()
    replica = system.start_replica(env={"CORE_JWT_SECRET": SECRET})
    try:
        async with httpx.AsyncClient(base_url=replica.url, timeout=30) as jwt_client:
            def bearer(**claims: object) -> dict[str, str]:
                return {"x-project-id": PROJECT, "Authorization": f"Bearer {token(**claims)}"}

            posing = bearer(sub=keys.ids["writer"], scope="memories:write")
            assert hidden(await jwt_client.get(status_url, headers=posing), status_url)
            assert (await jwt_client.get(status_url, headers=as_(keys, "writer"))).status_code \
                == 201
            no_sub = await jwt_client.get(status_url, headers=bearer(scope="memories:write"))
            assert no_sub.status_code == 401 and no_sub.json()["error"] == "invalid_token"
            starred = bearer(sub="svc", scope="memories:read", projects=["*"])
            refused = await jwt_client.get("/api/v1/memories?subject_id=u", headers=starred)
            assert refused.status_code == 403 and refused.json()["error"] == "project_forbidden"
            admin = bearer(sub="ops", scope="admin", projects=["*"])
            assert (await jwt_client.get("/api/v1/memories?subject_id=u",
                                         headers=admin)).status_code == 200
    finally:
        replica.stop()
