"""POST /api/v1/memories/batch and /api/v1/claims/batch: each item answered as its single
route answers it, embeddings in few provider calls, NDJSON streamed in chunks with its
limits, and a retried batch with an Idempotency-Key applied once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.support.openai_stub import OpenAIStub
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration
MAX_LINE = 4096
MAX_ITEMS = 600


@pytest.fixture(scope="module")
async def batched(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_system(infra, env={
        "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.base_url,
        "CORE_BATCH_MAX_LINE_BYTES": str(MAX_LINE),
        "CORE_BATCH_MAX_REQUEST_ITEMS": str(MAX_ITEMS)})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def client(batched: System) -> AsyncIterator[httpx.AsyncClient]:
    async with batched.client(timeout=120) as api:
        yield api


def project() -> dict[str, str]:
    return {"x-project-id": f"b-{uuid.uuid4().hex[:8]}"}


def without_ids(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: ("<id>" if k in ("id", "claim_id", "assertion_id", "event_id",
                                     "status_url", "created_at", "updated_at", "superseded_by")
                    or k.endswith("_id") else without_ids(v)) for k, v in body.items()}
    if isinstance(body, list):
        return [without_ids(v) for v in body]
    return body


async def count(system: System, sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(system.dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


MEMORY_ITEMS: list[Any] = [
    {"subject_id": "u1", "text": "I live in Austin", "extract_claims": False},
    {"subject_id": "u1", "text": "I live in Austin", "extract_claims": False},  # duplicate
    {"subject_id": "u1"},
    {"subject_id": "u1", "text": "x", "kind": "nonsense"},
    {"subject_id": "s" * 300, "text": "long subject"},
    None,
    {"subject_id": "u2", "text": "My dog is called Rex", "extract_claims": False},
]


async def test_each_item_answers_as_its_single_route(client: httpx.AsyncClient,
                                                     stub: OpenAIStub) -> None:
    single = []
    headers = project()
    for item in MEMORY_ITEMS:
        response = await client.post("/api/v1/memories", headers=headers,
                                     content=orjson.dumps(item))
        single.append({"status": response.status_code, "body": response.json()})
    stub.reset()
    batch = await client.post("/api/v1/memories/batch", headers=project(),
                              json={"items": MEMORY_ITEMS})
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [201, 200, 400, 400, 400, 400, 201]
    assert without_ids(results) == without_ids(single)
    [embed_call] = stub.requests("embed")  # every text of the batch in one provider call
    assert len(embed_call.body["input"]) == 3


async def test_claims_batch(client: httpx.AsyncClient, batched: System) -> None:
    headers = project()
    items = [{"subject_id": "u1", "predicate": "favorite_color", "object_value": "blue"},
             {"subject_id": "u1", "predicate": "lives_in"},
             {"subject_id": "u1", "predicate": "pet", "object_value": "Rex"}]
    response = await client.post("/api/v1/claims/batch", headers=headers, json={"items": items})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    assert results[1]["body"]["error"] == "object_value_required"
    for result, value in ((results[0], "blue"), (results[2], "Rex")):
        claim = await client.get(f"/api/v1/claims/{result['body']['claim_id']}",
                                 headers=headers)
        assert claim.status_code == 200 and value in claim.text


async def test_respond_async_gives_202_with_status_url(client: httpx.AsyncClient) -> None:
    headers = {**project(), "Prefer": "respond-async"}
    items = [{"subject_id": "u1", "text": f"async fact {i}"} for i in range(3)]
    response = await client.post("/api/v1/memories/batch", headers=headers,
                                 json={"items": items + [{"text": "no subject"}]})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 202, 202, 400]
    for result in results[:3]:
        url = result["body"]["status_url"]
        assert url == f"/api/v1/commands/{result['body']['event_id']}"
        for _ in range(200):
            final = await client.get(url, headers=headers)
            if final.status_code != 202:
                break
        assert final.status_code == 201


@pytest.mark.parametrize("prefer", ["", "respond-async"])
async def test_a_retried_batch_applies_each_item_once(client: httpx.AsyncClient,
                                                      batched: System, prefer: str) -> None:
    headers = {**project(), "Idempotency-Key": str(uuid.uuid4()), "Prefer": prefer}
    items = [{"subject_id": f"u{i % 3}", "text": f"fact {i} {uuid.uuid4().hex}"}
             for i in range(40)] + [{"subject_id": "u1"}]
    first = await client.post("/api/v1/memories/batch", headers=headers, json={"items": items})
    again = await client.post("/api/v1/memories/batch", headers=headers, json={"items": items})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    other = await client.post("/api/v1/memories/batch", headers=headers,
                              json={"items": [{"subject_id": "u", "text": "another body"}]})
    assert other.json()["results"][0] == {"status": 422,
                                          "body": {"error": "idempotency_key_reused"}}
    await batched.wait_projected()
    assert await count(batched, "SELECT count(*) FROM memories WHERE project_id = $1",
                       headers["x-project-id"]) == 40


async def test_a_batch_key_longer_than_200_characters_is_refused(
        client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/memories/batch",
                                 headers={**project(), "Idempotency-Key": "k" * 201},
                                 json={"items": []})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_idempotency_key", "max_length": 200}


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "invalid_json_body"), (b'{"items": 3}', "items_required"),
    (b"[1, 2]", "items_required"),
    (orjson.dumps({"items": [{}] * 501}), "too_many_items")])
async def test_bad_batch_bodies(client: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await client.post("/api/v1/memories/batch", headers=project(), content=body)
    assert response.status_code == 400 and response.json()["error"] == code


async def test_ndjson_is_processed_in_chunks_with_per_line_errors(
        client: httpx.AsyncClient, batched: System, stub: OpenAIStub) -> None:
    headers = {**project(), "content-type": "application/x-ndjson",
               "Prefer": "respond-async"}
    lines = [orjson.dumps({"subject_id": f"u{i % 5}", "text": f"line {i} {uuid.uuid4().hex}"})
             for i in range(520)]
    lines[3] = b"{broken"
    lines[4] = orjson.dumps({"subject_id": "u", "text": "x" * (MAX_LINE + 10)})
    stub.reset()

    async def upload() -> AsyncIterator[bytes]:
        for start in range(0, len(lines), 37):  # lines split across chunks as they stream
            yield b"\n".join(lines[start:start + 37]) + b"\n\n"

    response = await client.post("/api/v1/memories/batch", headers=headers, content=upload())
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 520
    assert results[3] == {"status": 400, "body": {"error": "invalid_json_body"}}
    assert results[4] == {"status": 413, "body": {"error": "payload_too_large",
                                                  "max_bytes": MAX_LINE}}
    assert {r["status"] for i, r in enumerate(results) if i not in (3, 4)} == {202}
    assert sorted(len(r.body["input"]) for r in stub.requests("embed")) == [20, 98, 100, 100,
                                                                           100, 100]
    await batched.wait_projected()
    assert await count(batched, "SELECT count(*) FROM memories WHERE project_id = $1",
                       headers["x-project-id"]) == 518


async def test_ndjson_beyond_the_item_limit_is_413_with_what_was_done(
        client: httpx.AsyncClient) -> None:
    headers = {**project(), "content-type": "application/x-ndjson", "Prefer": "respond-async"}
    body = b"\n".join(orjson.dumps({"subject_id": "u", "text": f"t{i}"})
                      for i in range(MAX_ITEMS + 5))
    response = await client.post("/api/v1/memories/batch", headers=headers, content=body)
    assert response.status_code == 413
    answer = response.json()
    assert (answer["error"], answer["max_items"]) == ("too_many_items", MAX_ITEMS)
    assert [r["status"] for r in answer["results"]] == [202] * MAX_ITEMS
