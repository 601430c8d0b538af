"""The admin routes the console relies on: as-of replays (a schema named from project and
moment, built once, read with x-core-as-of-schema) and the dead-letter count; admins only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from core.auth.api_keys import create_key
from tests.support.poison import produce_poison
from tests.support.system import System
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


async def reader_key(system: System) -> str:
    conn = await asyncpg.connect(system.dsn)
    try:
        return (await create_key(conn, name="reader", projects=["*"],
                                 scopes=["memories:read", "claims:read"]))[1]
    finally:
        await conn.close()


async def test_replay_builds_once_and_serves_as_of_reads(api: httpx.AsyncClient,
                                                         system: System) -> None:
    project = {"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"}
    first = await api.post("/api/v1/memories", headers=project,
                           json={"subject_id": "s", "text": "I live in Lisbon",
                                 "extract_claims": False})
    assert first.status_code == 201
    timeline = (await api.get("/api/v1/subjects/s/timeline", headers=project)).json()["data"]
    await api.post("/api/v1/memories", headers=project,
                   json={"subject_id": "s", "text": "I work in Porto", "extract_claims": False})
    until = {"until": timeline[0]["occurred_at"]}
    built = await api.post("/api/v1/admin/replays", headers=project, json=until)
    again = await api.post("/api/v1/admin/replays", headers=project, json=until)
    assert built.status_code == 201 and again.status_code == 200, built.text
    schema = built.json()["schema"]
    assert schema.startswith("asof_")
    assert (again.json()["schema"], again.json()["cached"]) == (schema, True)
    then = await api.get("/api/v1/memories", params={"subject_id": "s"},
                         headers={**project, "x-core-as-of-schema": schema})
    assert [m["text"] for m in then.json()["data"]] == ["I live in Lisbon"]


async def test_replay_refuses_bad_moments_and_non_admins(api: httpx.AsyncClient,
                                                         system: System) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answers = [await api.post("/api/v1/admin/replays", json=body)
               for body in ({}, {"until": "yesterday"}, {"until": "2026-01-01T00:00:00"},
                            {"until": future})]
    assert [(r.status_code, r.json()["error"]) for r in answers] == [
        (400, "until_required"), (400, "invalid_until"), (400, "invalid_until"),
        (400, "until_in_future")]
    async with httpx.AsyncClient(base_url=system.url,
                                 headers={"x-api-key": await reader_key(system)}) as reader:
        refused = await reader.post("/api/v1/admin/replays", json={"until": future})
        letters = await reader.get("/api/v1/admin/dead-letters")
    assert refused.status_code == letters.status_code == 403


async def test_dead_letter_count(api: httpx.AsyncClient, system: System) -> None:
    before = (await api.get("/api/v1/admin/dead-letters")).json()["count"]
    await produce_poison(system)

    async def counted() -> dict[str, object] | None:
        answer = await api.get("/api/v1/admin/dead-letters")
        assert answer.status_code == 200
        body: dict[str, object] = answer.json()
        return body if body["count"] == before + 1 else None

    body = await wait_until(counted, "the poison record counted in the DLQ")
    assert str(body["topic"]).endswith(".events.dlq")
    assert body["count"] == sum(body["partitions"].values())  # type: ignore[attr-defined]
