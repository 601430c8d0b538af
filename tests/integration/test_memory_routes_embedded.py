"""Memory routes that need embeddings (a CORE system on the OpenAI stub): supersession seen
through GET superseded and restore (§5.7, §5.8), and PATCH re-embedding (§5.4, §15 Q7)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kernel.db import connect
from tests.integration.test_memory_routes import ISO_MS, changes_until, create, fetch, project
from tests.support.openai_stub import OpenAIStub, embed_text
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration
BLUE, GREEN, RED = (f"My favorite color is {c}" for c in ("blue", "green", "red"))


@pytest.fixture(scope="module")
async def embedded(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_system(infra, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": stub.base_url})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def client(embedded: System) -> AsyncIterator[httpx.AsyncClient]:
    async with embedded.client() as api:
        yield api


async def superseded(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await api.get("/api/v1/memories/superseded", headers=headers,
                             params={"subject_id": "u1", **params})
    assert response.status_code == 200
    return response.json()


async def test_superseded_lists_newest_first_with_paging(client: httpx.AsyncClient) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    green = await create(client, headers, GREEN)
    red = await create(client, headers, RED)
    listed = await superseded(client, headers)
    assert [m["id"] for m in listed["data"]] == [green, blue] and listed["count"] == 2
    first = listed["data"][0]
    assert (first["status"], first["superseded_by"]) == ("superseded", red)
    assert "embedding" not in first and "is_deleted" not in first
    assert all(ISO_MS.match(first[k]) for k in ("created_at", "updated_at"))
    assert [m["id"] for m in (await superseded(client, headers, limit="1"))["data"]] == [green]
    assert [m["id"] for m in (await superseded(client, headers, offset="1"))["data"]] == [blue]
    assert (await superseded(client, headers, subject_id="u2"))["data"] == []
    assert (await superseded(client, project()))["data"] == []


async def test_superseded_excludes_deleted(client: httpx.AsyncClient) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    await create(client, headers, GREEN)
    await client.delete(f"/api/v1/memories/{blue}", headers=headers)
    assert (await superseded(client, headers)) == {"data": [], "count": 0}


async def test_restore_a_superseded_memory(client: httpx.AsyncClient, embedded: System) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    green = await create(client, headers, GREEN)
    before = await fetch(client, headers, blue)
    restored = await client.post(f"/api/v1/memories/{blue}/restore", headers=headers)
    assert restored.status_code == 200
    assert restored.json() == {"ok": True, "restored": True, "id": blue, "subject_id": "u1",
                               "text": BLUE}
    after = await fetch(client, headers, blue)
    assert (after["status"], after["superseded_by"]) == ("active", None)
    assert after["updated_at"] > before["updated_at"]
    assert (await fetch(client, headers, green))["status"] == "active"
    assert (await superseded(client, headers))["data"] == []
    again = await client.post(f"/api/v1/memories/{blue}/restore", headers=headers)
    assert again.json() == {"ok": True, "restored": False, "message": "Memory is already active"}
    marker = await create(client, headers, "Marker without shared words", subject="u1")
    changes = await changes_until(embedded, headers["x-project-id"], creations=3)
    updated = [c["payload"] for c in changes if c["type"] == "memory.updated"]
    assert updated == [{"id": blue, "status": "active"}]
    assert changes[-1]["payload"]["id"] == marker


async def test_restore_of_a_deleted_superseded_memory(client: httpx.AsyncClient) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    await create(client, headers, GREEN)
    await client.delete(f"/api/v1/memories/{blue}", headers=headers)
    response = await client.post(f"/api/v1/memories/{blue}/restore", headers=headers)
    assert response.status_code == 400
    assert response.json() == {"error": "memory_deleted",
                               "message": "Cannot restore a deleted memory"}


async def test_patch_works_on_a_superseded_memory(client: httpx.AsyncClient) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    await create(client, headers, GREEN)
    response = await client.patch(f"/api/v1/memories/{blue}", headers=headers,
                                  json={"importance": 90})
    assert response.status_code == 200
    data = await fetch(client, headers, blue)
    assert (data["status"], data["importance"]) == ("superseded", 90)


async def similarity_to(system: System, memory_id: str, text: str) -> float | None:
    conn = await connect(system.dsn)
    try:
        value = await conn.fetchval(
            "SELECT 1 - (embedding <=> $2) FROM memories WHERE id = $1", memory_id,
            embed_text(text))
        return None if value is None else float(value)
    finally:
        await conn.close()


async def test_patch_text_re_embeds_or_clears_the_stale_vector(
        client: httpx.AsyncClient, embedded: System, stub: OpenAIStub) -> None:
    headers = project()
    path = f"/api/v1/memories/{await create(client, headers, 'I live in Austin')}"
    memory_id = path.rsplit("/", 1)[1]
    assert await similarity_to(embedded, memory_id, "I live in Austin") == pytest.approx(1)

    await client.patch(path, headers=headers, json={"importance": 10})
    assert await similarity_to(embedded, memory_id, "I live in Austin") == pytest.approx(1)

    await client.patch(path, headers=headers, json={"text": "I moved to Berlin last year"})
    assert await similarity_to(embedded, memory_id, "I moved to Berlin last year") == \
        pytest.approx(1)

    stub.script("embed", status=500, times=1)  # same text, no vector: the old one still fits
    await client.patch(path, headers=headers, json={"text": " I moved to Berlin last year "})
    assert await similarity_to(embedded, memory_id, "I moved to Berlin last year") == \
        pytest.approx(1)

    stub.script("embed", status=500, times=1)  # new text, no vector: the old one is stale
    response = await client.patch(path, headers=headers, json={"text": "I live in Lisbon now"})
    assert response.status_code == 200
    assert await similarity_to(embedded, memory_id, "I live in Lisbon now") is None
    assert (await fetch(client, headers, memory_id))["text"] == "I live in Lisbon now"


async def test_patch_does_not_supersede_or_dedupe(client: httpx.AsyncClient) -> None:
    headers = project()
    blue = await create(client, headers, BLUE)
    other = await create(client, headers, f"My dog is named Rex {uuid.uuid4().hex[:4]}")
    response = await client.patch(f"/api/v1/memories/{other}", headers=headers,
                                  json={"text": GREEN})
    assert response.status_code == 200
    assert (await fetch(client, headers, blue))["status"] == "active"
    assert (await fetch(client, headers, other))["status"] == "active"
