"""As-of replays are bounded jobs: at most CORE_ASOF_MAX_PER_PROJECT schemas per project
(429 beyond), a 202 with a status to poll, and schemas older than CORE_ASOF_TTL_S dropped
by a background task."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from core.asof_jobs import drop_expired
from tests.support.system import System

pytestmark = pytest.mark.integration


def moments(n: int) -> list[str]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    return [(start - timedelta(seconds=i)).isoformat() for i in range(n)]


async def schemas_of(system: System, project_id: str) -> list[str]:
    conn = await asyncpg.connect(system.dsn)
    try:
        return [r["name"] for r in await conn.fetch(
            "SELECT a.name FROM asof_schemas a JOIN information_schema.schemata s "
            "ON s.schema_name = a.name WHERE a.project_id = $1 ORDER BY a.name", project_id)]
    finally:
        await conn.close()


async def test_a_project_holds_at_most_three_as_of_schemas(api: httpx.AsyncClient,
                                                           system: System) -> None:
    project = {"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"}
    times = moments(4)
    answers = [await api.post("/api/v1/admin/replays", headers=project, json={"until": m})
               for m in times]
    assert [r.status_code for r in answers] == [201, 201, 201, 429], answers[-1].text
    assert answers[-1].json()["error"] == "asof_limit_reached"
    assert answers[-1].json()["max"] == 3
    again = await api.post("/api/v1/admin/replays", headers=project,
                           json={"until": times[0]})
    assert again.status_code == 200 and again.json()["cached"], "a built schema is reused"
    other = await api.post("/api/v1/admin/replays", json={"until": moments(1)[0]},
                           headers={"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"})
    assert other.status_code == 201, "the limit is per project"
    assert len(await schemas_of(system, project["x-project-id"])) == 3


async def test_respond_async_answers_a_job_to_poll(api: httpx.AsyncClient) -> None:
    project = {"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"}
    queued = await api.post("/api/v1/admin/replays", json={"until": moments(1)[0]},
                            headers={**project, "Prefer": "respond-async"})
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    deadline = time.monotonic() + 60
    while True:
        job = (await api.get(queued.json()["status_url"], headers=project)).json()
        if job["status"] in ("ready", "failed") or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert job["status"] == "ready" and job["schema"] == queued.json()["schema"]
    elsewhere = await api.get(queued.json()["status_url"],
                              headers={"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"})
    assert elsewhere.status_code == 404


async def test_schemas_older_than_the_ttl_are_dropped(api: httpx.AsyncClient,
                                                      system: System) -> None:
    project = {"x-project-id": f"asof-{uuid.uuid4().hex[:8]}"}
    times = moments(4)
    for moment in times[:3]:
        built = await api.post("/api/v1/admin/replays", headers=project, json={"until": moment})
        assert built.status_code == 201
    names = await schemas_of(system, project["x-project-id"])
    conn = await asyncpg.connect(system.dsn)
    try:
        await conn.execute("UPDATE asof_schemas SET created_at = now() - interval '2 hours' "
                           "WHERE name = ANY($1::text[])", names[:2])
        dropped = await drop_expired(conn, ttl_s=3600)
    finally:
        await conn.close()
    assert set(names[:2]) <= set(dropped)
    assert await schemas_of(system, project["x-project-id"]) == names[2:]
    room = await api.post("/api/v1/admin/replays", headers=project,
                          json={"until": times[3]})
    assert room.status_code == 201, "dropped schemas make room again"
