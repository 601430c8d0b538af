"""Idempotency-Key: one write however often it is retried, concurrently or after a crash."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from core.idempotency import IdempotencyStore
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration


def project() -> str:
    return f"idem-{uuid.uuid4().hex[:8]}"


async def count_memories(system: System, project_id: str) -> int:
    conn = await asyncpg.connect(system.dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM memories WHERE project_id = $1",
                                       project_id))
    finally:
        await conn.close()


async def test_200_concurrent_retries_make_one_memory(system: System) -> None:
    project_id, key = project(), str(uuid.uuid4())
    headers = {"x-project-id": project_id, "Idempotency-Key": key}
    body = {"subject_id": "u", "text": "exactly once please"}
    async with system.client(timeout=60) as client:
        responses = await asyncio.gather(*(
            client.post("/api/v1/memories", headers=headers, json=body) for _ in range(200)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 199
    assert await count_memories(system, project_id) == 1


async def test_same_key_other_body_is_refused(api) -> None:  # noqa: ANN001
    headers = {"x-project-id": project(), "Idempotency-Key": "k-1"}
    first = await api.post("/api/v1/memories", headers=headers, json={"subject_id": "u",
                                                                      "text": "one"})
    assert first.status_code == 201
    reused = await api.post("/api/v1/memories", headers=headers, json={"subject_id": "u",
                                                                       "text": "two"})
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"


async def test_validation_failures_are_not_stored(api) -> None:  # noqa: ANN001
    headers = {"x-project-id": project(), "Idempotency-Key": "k-2"}
    bad = await api.post("/api/v1/memories", headers=headers, json={"subject_id": "u"})
    assert bad.status_code == 400
    good = await api.post("/api/v1/memories", headers=headers, json={"subject_id": "u"})
    assert good.status_code == 400, "the same request is evaluated again, not replayed"
    fixed = await api.post("/api/v1/memories", headers={**headers, "Idempotency-Key": "k-3"},
                           json={"subject_id": "u", "text": "fine"})
    assert fixed.status_code == 201


async def test_key_too_long(api) -> None:  # noqa: ANN001
    response = await api.post("/api/v1/memories",
                              headers={"x-project-id": project(), "Idempotency-Key": "k" * 256},
                              json={"subject_id": "u", "text": "x"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_idempotency_key"


async def test_keys_are_scoped_by_project(api) -> None:  # noqa: ANN001
    body = {"subject_id": "u", "text": "same key, two projects"}
    for _ in range(2):
        response = await api.post("/api/v1/memories", json=body,
                                  headers={"x-project-id": project(), "Idempotency-Key": "shared"})
        assert response.status_code == 201


async def test_api_killed_before_answering_then_retry_applies_once(infra: Infra) -> None:
    system = await start_system(infra)
    try:
        project_id, key = project(), str(uuid.uuid4())
        headers = {"x-project-id": project_id, "Idempotency-Key": key}
        body = {"subject_id": "u", "text": "survives an API crash"}
        system.kill_worker()  # the outcome cannot arrive, so the API is still waiting...
        async with system.client() as client:
            pending = asyncio.ensure_future(client.post("/api/v1/memories", headers=headers,
                                                        json=body))
            await asyncio.sleep(1.0)  # ...after the event was produced
            system.kill_api()
            with pytest.raises(Exception):  # noqa: B017 - the connection dies with the process
                await pending
        system.start_worker()
        system.start_api()
        async with system.client(timeout=60) as client:
            retry = await client.post("/api/v1/memories", headers=headers, json=body)
            again = await client.post("/api/v1/memories", headers=headers, json=body)
        assert retry.status_code == 201, retry.text
        assert again.json() == retry.json()
        await system.wait_projected()
        assert await count_memories(system, project_id) == 1
    finally:
        system.stop()


async def test_key_reused_after_its_ttl_applies_the_new_write(infra: Infra) -> None:
    """After the API purged a key, its reuse with another body is a new write: the projector
    must not answer it with the old outcome (and drop it)."""
    system = await start_system(infra, env={"CORE_IDEMPOTENCY_TTL_S": "2"})
    try:
        project_id = project()
        headers = {"x-project-id": project_id, "Idempotency-Key": "reused"}
        async with system.client() as client:
            first = await client.post("/api/v1/memories", headers=headers,
                                      json={"subject_id": "u", "text": "the first write"})
            await asyncio.sleep(2.2)  # the key's TTL runs out on the API's clock
            pool = await asyncpg.create_pool(system.dsn, min_size=1, max_size=1)
            try:
                assert await IdempotencyStore(pool, 1, 1).purge(2) >= 1
            finally:
                await pool.close()
            second = await client.post("/api/v1/memories", headers=headers,
                                       json={"subject_id": "u", "text": "another write"})
        assert first.status_code == 201 and second.status_code == 201, second.text
        assert second.json()["id"] != first.json()["id"]
        assert await count_memories(system, project_id) == 2
    finally:
        system.stop()
