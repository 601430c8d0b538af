"""GET /api/v1/subjects, fed by the `subjects` projection: most recently active first, memory
and claim counts that follow deletes, duplicates and retractions, prefix search, cursor
pages, the read scope, and the activity time taken from the events (not a clock)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from core.auth.api_keys import create_key
from kernel.migrate import migrate, migration_files
from tests.support.system import Infra, System
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def new_project() -> str:
    return f"subjects-{uuid.uuid4().hex[:8]}"


async def send(api: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
    response = await api.request(method, path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def memory(api: httpx.AsyncClient, subject: str, text: str) -> str:
    created = await send(api, "POST", "/api/v1/memories",
                         {"subject_id": subject, "text": text, "extract_claims": False})
    return str(created["id"])


async def claim(api: httpx.AsyncClient, subject: str, predicate: str, value: str) -> str:
    body = {"subject_id": subject, "predicate": predicate, "object_value": value}
    return str((await send(api, "POST", "/api/v1/claims", body))["claim_id"])


async def subjects(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/subjects", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def rows(body: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(s["subject_id"], s["memory_count"], s["claim_count"]) for s in body["data"]]


async def test_most_recent_first_with_counts_that_follow_the_decisions(system: System) -> None:
    project = new_project()
    async with system.client(headers={"x-project-id": project}) as api:
        kept = await memory(api, "ada", "Ada writes the first program")
        gone = await memory(api, "ada", "Ada likes long walks by the sea")
        await memory(api, "ada", "Ada writes the first program")  # duplicate: skipped
        await memory(api, "grace", "Grace finds a moth in the relay")
        pizza = await claim(api, "ada", "favorite_food", "pizza")
        await claim(api, "ada", "favorite_food", "sushi")  # supersedes: pizza stays a claim
        await claim(api, "alan", "favorite_food", "tea")
        assert rows(await subjects(api)) == [("alan", 0, 1), ("ada", 2, 2), ("grace", 1, 0)]
        await send(api, "DELETE", f"/api/v1/memories/{gone}")
        await send(api, "POST", f"/api/v1/claims/{pizza}/retract", {"reason": "changed"})
        listed = await subjects(api)
        assert rows(listed) == [("ada", 1, 1), ("alan", 0, 1), ("grace", 1, 0)]
        timeline = (await api.get("/api/v1/subjects/ada/timeline")).json()["data"]
        # A recall is activity without a count change: grace moves up, counts stay.
        await api.get("/api/v1/memories/search", params={
            "subject_id": "grace", "q": "moth relay", "chat_id": "c1"})

        async def grace_first() -> bool:
            return rows(await subjects(api))[0] == ("grace", 1, 0)

        await wait_until(grace_first, "the recall makes grace the most recently active")
        assert rows(await subjects(api))[1:] == [("ada", 1, 1), ("alan", 0, 1)]
    assert listed["data"][0]["last_activity_at"] == timeline[-1]["occurred_at"]
    assert kept and listed["project_id"] == project and listed["next_cursor"] is None
    conn = await asyncpg.connect(system.dsn)
    try:
        stored = await conn.fetchval(
            "SELECT last_activity_at = (SELECT max(occurred_at) FROM subject_events "
            "WHERE project_id = $1 AND subject_id = 'ada') FROM subjects "
            "WHERE project_id = $1 AND subject_id = 'ada'", project)
    finally:
        await conn.close()
    assert stored is True


async def test_prefix_search_and_cursor_pages(system: System) -> None:
    project = new_project()
    names = ["team-a", "team-b", "team_c", "teamXd", "solo", "team-e"]
    async with system.client(headers={"x-project-id": project}) as api:
        for name in names:
            await memory(api, name, f"{name} joined the project")
        teams = await subjects(api, prefix="team-")
        assert [s["subject_id"] for s in teams["data"]] == ["team-e", "team-b", "team-a"]
        literal = await subjects(api, prefix="team_")  # `_` is no wildcard
        assert [s["subject_id"] for s in literal["data"]] == ["team_c"]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await subjects(api, limit=4, **({"cursor": cursor} if cursor else {}))
            seen += [s["subject_id"] for s in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(names))
        paged = await subjects(api, prefix="team", limit=2)
        rest = await subjects(api, prefix="team", limit=2, cursor=paged["next_cursor"])
        assert [s["subject_id"] for s in paged["data"] + rest["data"]] == [
            "team-e", "teamXd", "team_c", "team-b"]


async def test_bad_input_and_scope(system: System) -> None:
    project = new_project()
    conn = await asyncpg.connect(system.dsn)
    try:
        _, claims_only = await create_key(conn, name="claims-only", projects=[project],
                                          scopes=["claims:read"])
    finally:
        await conn.close()
    async with system.client(headers={"x-project-id": project}) as api:
        bad_cursor = await api.get("/api/v1/subjects", params={"cursor": "not-a-cursor"})
        long_prefix = await api.get("/api/v1/subjects", params={"prefix": "p" * 256})
        empty = await subjects(api)
    async with httpx.AsyncClient(base_url=system.url) as other:
        forbidden = await other.get("/api/v1/subjects", headers={
            "x-api-key": claims_only, "x-project-id": project})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"] == "invalid_cursor"
    assert long_prefix.status_code == 400
    assert long_prefix.json()["error"] == "prefix_too_long"
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "insufficient_scope"
    assert empty["data"] == [] and empty["next_cursor"] is None


async def test_the_migration_fills_subjects_projected_before_it(infra: Infra,
                                                                tmp_path: Path) -> None:
    name = f"subj_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    files = migration_files()
    ours = next(i for i, f in enumerate(files) if f.version.endswith("_subjects"))
    before = tmp_path / "before"
    before.mkdir()
    for f in files[:ours]:
        shutil.copy(f.path, before / f.path.name)
    conn = await asyncpg.connect(infra.dsn(name))
    try:
        await migrate(conn, before)
        await conn.execute(PROJECTED_ROWS)
        await migrate(conn)
        found = await conn.fetch("SELECT subject_id, memory_count, claim_count, "
                                 "last_activity_at::text AS at FROM subjects ORDER BY 1")
    finally:
        await conn.close()
    assert [tuple(r) for r in found] == [("ada", 1, 1, "2026-01-02 00:00:00+00"),
                                         ("bob", 0, 0, "2026-01-03 00:00:00+00")]


PROJECTED_ROWS = """
INSERT INTO memories (id, project_id, subject_id, text, status, is_deleted) VALUES
  ('m1', 'p', 'ada', 'kept', 'active', false), ('m2', 'p', 'ada', 'old', 'superseded', false),
  ('m3', 'p', 'ada', 'gone', 'active', true), ('m4', 'p', 'bob', 'gone', 'active', true);
INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, slot, status)
VALUES ('c1', 'p', 'ada', 'f', 'x', 'f', 'active'), ('c2', 'p', 'ada', 'f', 'y', 'f', 'retracted');
INSERT INTO subject_events (project_id, subject_id, topic_partition, log_offset, event_id, type,
  v, occurred_at, actor, payload) VALUES
  ('p', 'ada', 0, 1, 'e1', 'memory.submitted', 1, '2026-01-01T00:00:00Z', 'k', '{}'),
  ('p', 'ada', 0, 2, 'e2', 'claim.asserted', 1, '2026-01-02T00:00:00Z', 'k', '{}'),
  ('p', 'bob', 1, 1, 'e3', 'memory.deleted', 1, '2026-01-03T00:00:00Z', 'k', '{}'),
  ('p', '', 1, 2, 'e4', 'memory.recalled', 1, '2026-01-04T00:00:00Z', 'k', '{}');
"""
