"""Killing the projection worker with SIGKILL mid-stream loses no accepted write and
applies none twice. Ids are assigned by the API (a client-supplied id is a primary key, which
would hide an event applied twice); every write has its own text, so a double application
shows as two rows of one text."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.support.system import Infra, start_system

pytestmark = pytest.mark.integration
TOTAL = 2000
CONCURRENCY = 16


async def submit_all(client, project: str, texts: list[str]) -> list[str]:  # noqa: ANN001
    queue: asyncio.Queue[str] = asyncio.Queue()
    for text in texts:
        queue.put_nowait(text)
    accepted: list[str] = []

    async def sender() -> None:
        while not queue.empty():
            text = queue.get_nowait()
            response = await client.post(
                "/api/v1/memories", headers={"x-project-id": project, "Prefer": "respond-async"},
                json={"subject_id": f"s{hash(text) % 7}", "text": text})
            assert response.status_code == 202
            accepted.append(response.json()["event_id"])

    await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return accepted


async def kill_worker_repeatedly(system, times: int) -> None:  # noqa: ANN001
    for _ in range(times):
        await asyncio.sleep(1.0)
        system.kill_worker()
        await asyncio.sleep(0.3)
        system.start_worker()


async def test_sigkilled_worker_loses_nothing_and_duplicates_nothing(infra: Infra) -> None:
    system = await start_system(infra)
    try:
        project = f"crash-{uuid.uuid4().hex[:8]}"
        texts = [f"fact number {i} {uuid.uuid4().hex[:6]}" for i in range(TOTAL)]
        async with system.client() as client:
            accepted, _ = await asyncio.gather(submit_all(client, project, texts),
                                               kill_worker_repeatedly(system, 3))
        assert len(accepted) == TOTAL
        await system.wait_projected(timeout=180)
        conn = await asyncpg.connect(system.dsn)
        try:
            per_text = await conn.fetch(
                "SELECT text, count(*) AS n FROM memories WHERE project_id = $1 GROUP BY text",
                project)
            outcomes = await conn.fetch(
                "SELECT status, count(*) AS n FROM command_outcomes WHERE event_id = ANY($1) "
                "GROUP BY status", accepted)
        finally:
            await conn.close()
        assert {r["text"]: r["n"] for r in per_text} == dict.fromkeys(texts, 1)
        assert {r["status"]: r["n"] for r in outcomes} == {201: TOTAL}
    finally:
        system.stop()
