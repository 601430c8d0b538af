"""Idempotency-Key: one write however often it is retried, concurrently or after a crash."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from core.auth.api_keys import create_key
from core.idempotency import Claimed, IdempotencyStore, Refused, Replay
from kernel.db import create_pool
from kernel.kafka import end_offsets
from tests.support.system import Infra, System, start_system
from tests.support.waiting import wait_until

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


async def test_keys_are_scoped_by_project(api, system: System) -> None:  # noqa: ANN001
    body = {"subject_id": "u", "text": "same key, two projects"}
    projects, ids = [project(), project()], []
    for project_id in projects:
        response = await api.post("/api/v1/memories", json=body,
                                  headers={"x-project-id": project_id, "Idempotency-Key": "shared"})
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]
    assert [await count_memories(system, p) for p in projects] == [1, 1]


async def test_keys_are_scoped_by_caller(system: System) -> None:
    project_id, ids = project(), []
    for name in ("caller-a", "caller-b"):  # one key shared by two callers would be a 422
        body = {"subject_id": "u", "text": f"same key, written by {name}"}
        key = await new_key(system, name)
        async with system.client(headers={"x-api-key": key}) as client:
            response = await client.post("/api/v1/memories", json=body, headers={
                "x-project-id": project_id, "Idempotency-Key": "shared-by-callers"})
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers
        ids.append(response.json()["id"])
    assert ids[0] != ids[1] and await count_memories(system, project_id) == 2


async def new_key(system: System, name: str) -> str:
    conn = await asyncpg.connect(system.dsn)
    try:
        _, key = await create_key(conn, name=name, projects=["*"],
                                  scopes=["memories:read", "memories:write"])
    finally:
        await conn.close()
    return key


async def test_patch_and_delete_keys_replay_without_a_second_event(api,  # noqa: ANN001
                                                                   system: System) -> None:
    headers = {"x-project-id": project()}
    created = await api.post("/api/v1/memories", headers=headers,
                             json={"subject_id": "u", "text": "to be patched"})
    memory_id = created.json()["id"]
    for method, body in (("PATCH", {"text": "patched once"}), ("DELETE", None)):
        keyed = {**headers, "Idempotency-Key": f"{method}-{memory_id}"}
        first = await api.request(method, f"/api/v1/memories/{memory_id}", headers=keyed,
                                  json=body)
        second = await api.request(method, f"/api/v1/memories/{memory_id}", headers=keyed,
                                   json=body)
        assert first.status_code == 200, first.text
        assert second.status_code == 200 and second.headers["idempotent-replayed"] == "true"
        assert second.content == first.content
    await system.wait_projected()
    conn = await asyncpg.connect(system.dsn)
    try:
        types = await conn.fetch("SELECT type, count(*) AS n FROM subject_events WHERE "
                                 "project_id = $1 GROUP BY type", headers["x-project-id"])
    finally:
        await conn.close()
    assert {r["type"]: r["n"] for r in types} == {
        "memory.submitted": 1, "memory.patched": 1, "memory.deleted": 1}


async def test_a_retry_while_the_first_still_runs_is_409_after_the_wait(system: System) -> None:
    pool = await create_pool(system.dsn, max_size=2)
    try:
        store = IdempotencyStore(pool, lease_s=30, wait_s=0.3)
        scope = (project(), "caller", "in-flight")
        assert isinstance(await store.begin(scope, "print"), Claimed)
        refused = await store.begin(scope, "print")
        assert refused == Refused(409, "idempotency_key_in_use")
        assert await store.begin(scope, "other print") == Refused(422, "idempotency_key_reused")
    finally:
        await pool.close()


async def test_an_expired_key_can_be_used_again(system: System) -> None:
    pool = await create_pool(system.dsn, max_size=2)
    try:
        store = IdempotencyStore(pool, lease_s=30, wait_s=0.3)
        scope = (project(), "caller", "expiring")
        assert isinstance(await store.begin(scope, "print"), Claimed)
        await store.complete(scope, 201, {"id": "m"}, "e-1")
        assert await store.begin(scope, "print") == Replay(201, {"id": "m"})
        await pool.execute("UPDATE idempotency_keys SET created_at = now() - interval '2 days', "
                           "completed_at = now() - interval '2 days' "
                           "WHERE project_id = $1", scope[0])
        assert await store.purge(86400) >= 1
        assert isinstance(await store.begin(scope, "another body"), Claimed)
    finally:
        await pool.close()


async def events_produced(system: System) -> int:
    settings = system.settings()
    return sum((await end_offsets(settings, settings.events_topic)).values())


async def _more(system: System, before: int) -> bool:
    return await events_produced(system) > before


async def test_api_killed_before_answering_then_retry_applies_once(infra: Infra) -> None:
    system = await start_system(infra)
    try:
        project_id, key = project(), str(uuid.uuid4())
        headers = {"x-project-id": project_id, "Idempotency-Key": key}
        body = {"subject_id": "u", "text": "survives an API crash"}
        system.kill_worker()  # the outcome cannot arrive, so the API is still waiting...
        async with system.client() as client:
            before = await events_produced(system)
            pending = asyncio.ensure_future(client.post("/api/v1/memories", headers=headers,
                                                        json=body))
            await wait_until(lambda: _more(system, before), "the event was produced")
            system.kill_api()  # ...after the event was produced
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
