"""Extraction over HTTP (spec §7.1, §7.4 with §15): the extract route with and without
learn, and background claim extraction of created memories through the Faust agent."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from kernel.kafka import subject_key
from tests.support.log_replay import replay_into_fresh_database, table_rows
from tests.support.openai_stub import OpenAIStub
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration
YELLOW_AUSTIN = "My favorite color is yellow and I live in Austin"


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Polls until the probe returns something truthy (extraction runs after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def create(api: httpx.AsyncClient, headers: dict[str, str], subject: str, text: str,
                 **extra: Any) -> str:
    response = await api.post("/api/v1/memories", headers=headers,
                              json={"subject_id": subject, "text": text, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def memory_claims(api: httpx.AsyncClient, headers: dict[str, str],
                        memory_id: str) -> list[tuple[str, Any]]:
    response = await api.get(f"/api/v1/memories/{memory_id}/claims", headers=headers)
    return sorted((c["predicate"], c["value"]) for c in response.json().get("data", []))


async def truth(api: httpx.AsyncClient, headers: dict[str, str], subject: str) -> Any:
    response = await api.get(f"/api/v1/claims/subject/{subject}/truth", headers=headers)
    return response.json()


async def test_created_memory_gets_its_claims(api: httpx.AsyncClient) -> None:
    headers = project()
    memory_id = await create(api, headers, "u1", YELLOW_AUSTIN)
    claims = await eventually(lambda: memory_claims(api, headers, memory_id))
    assert claims == [("favorite_color", "yellow"), ("lives_in", "Austin")]
    slots = {s["slot"]: s for s in (await truth(api, headers, "u1"))["slots"]}
    assert slots["favorite_color"]["claim_type"] == "preference"
    assert slots["lives_in"]["claim_type"] == "fact"
    assert slots["lives_in"]["confidence"] == 0.85
    assert slots["lives_in"]["source"]["memory_id"] == memory_id
    claim = (await api.get(f"/api/v1/claims/{slots['lives_in']['active_claim_id']}",
                           headers=headers)).json()
    assert claim["claim"]["source_memory_id"] == memory_id


async def logged_event(system: System, memory_id: str) -> dict[str, Any]:
    """The `memory.submitted` record of a memory, as the log holds it."""
    settings = system.settings()
    consumer = AIOKafkaConsumer(settings.events_topic, bootstrap_servers=system.infra.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, f"no record of {memory_id} in the log"
            for record in (r for records in batch.values() for r in records):
                try:
                    event = orjson.loads(record.value)
                except orjson.JSONDecodeError:  # another test's poison record
                    continue
                if event["type"] == "memory.submitted" and event["payload"]["id"] == memory_id:
                    return dict(event)
    finally:
        await consumer.stop()


async def test_simple_claims_are_decided_at_write_time(api: httpx.AsyncClient,
                                                       system: System) -> None:
    """The simple engine's claims ride in `memory.submitted` v2 and are written in the
    memory's transaction: visible the moment the 201 is, with no extraction request."""
    headers = project()
    memory_id = await create(api, headers, "u1", YELLOW_AUSTIN)
    assert await memory_claims(api, headers, memory_id) == [
        ("favorite_color", "yellow"), ("lives_in", "Austin")]
    event = await logged_event(system, memory_id)
    assert event["v"] == 2
    assert sorted(c["predicate"] for c in event["payload"]["claims"]) == [
        "favorite_color", "lives_in"]
    conn = await asyncpg.connect(system.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM extraction_requests "
                                   "WHERE memory_id = $1", memory_id) == 0
    finally:
        await conn.close()
    plain = await create(api, headers, "u1", "Nothing to learn here today")
    assert (await logged_event(system, plain))["payload"]["claims"] == []


async def test_v1_memory_event_is_still_extracted_by_the_agent(api: httpx.AsyncClient,
                                                               system: System) -> None:
    """An event written before claims rode in it (v1) is queued for the agent, as then."""
    headers = project()
    memory_id = f"mem_{uuid.uuid4()}"
    event = {"event_id": str(uuid.uuid4()), "type": "memory.submitted", "v": 1,
             "project_id": headers["x-project-id"], "subject_id": "u1",
             "occurred_at": "2026-11-27T10:00:00.123Z", "actor": "key_fixture",
             "idempotency_key": None, "payload": {"id": memory_id, "text": "I work at Acme"}}
    producer = AIOKafkaProducer(bootstrap_servers=system.infra.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            system.settings().events_topic, orjson.dumps(event),
            key=subject_key(headers["x-project-id"], "u1"))
    finally:
        await producer.stop()
    assert await eventually(lambda: memory_claims(api, headers, memory_id)) == [
        ("works_at", "Acme")]


async def test_opted_out_and_deleted_memories_get_no_claims(api: httpx.AsyncClient,
                                                            system: System) -> None:
    headers = project()
    opted_out = await create(api, headers, "u1", "I live in Paris", extract_claims=False)
    no_supersede = await create(api, headers, "u2", "I live in Rome", no_supersede=True)
    deleted = await create(api, headers, "u3", "I live in Lima", extract_claims=False)
    assert (await api.delete(f"/api/v1/memories/{deleted}", headers=headers)).json()[
        "deleted"] is True
    # A request queued before the delete (the queue is FIFO): the agent skips the memory.
    conn = await asyncpg.connect(system.dsn)
    try:
        await conn.execute(
            "INSERT INTO extraction_requests (source_event_id, project_id, subject_id, "
            "memory_id, text) VALUES ('e-deleted', $1, 'u3', $2, 'I live in Lima')",
            headers["x-project-id"], deleted)
    finally:
        await conn.close()
    signal = await create(api, headers, "u4", "I work at Acme")
    assert await eventually(lambda: memory_claims(api, headers, signal)) == [
        ("works_at", "Acme")]
    await system.wait_projected()
    assert await memory_claims(api, headers, opted_out) == []
    assert await memory_claims(api, headers, no_supersede) == []
    for subject in ("u1", "u2", "u3"):
        assert (await truth(api, headers, subject))["slot_count"] == 0


async def test_extract_without_learn_writes_nothing(api: httpx.AsyncClient) -> None:
    headers = project()
    response = await api.post("/api/v1/memories/extract", headers=headers, json={
        "subject_id": "u1", "text": "  My name is Bob.   I live in Paris ", "learn": "true",
        "conversation_context": ["hi", 3, None]})
    assert response.status_code == 200
    assert response.json() == {
        "ok": True, "learned": False, "mode": "simple", "extracted_count": 1,
        "memories": [{
            "text": "My name is Bob. I live in Paris", "kind": "fact", "importance": 50,
            "confidence": 0.75, "is_temporal": False, "visibility": "private",
            "tags": ["simple_mode"],
            "claims": [{"predicate": "name", "object_value": "Bob", "claim_type": "fact",
                        "confidence": 0.9},
                       {"predicate": "lives_in", "object_value": "Paris",
                        "claim_type": "fact", "confidence": 0.85}]}]}
    listed = await api.get("/api/v1/memories", headers=headers, params={"subject_id": "u1"})
    assert listed.json()["count"] == 0


async def test_force_keeps_a_trivial_message(api: httpx.AsyncClient) -> None:
    body = {"subject_id": "u1", "text": "hello there"}
    plain = await api.post("/api/v1/memories/extract", headers=project(), json=body)
    assert plain.json()["extracted_count"] == 0
    forced = await api.post("/api/v1/memories/extract?force=true", headers=project(), json=body)
    [memory] = forced.json()["memories"]
    assert memory["importance"] == 70 and memory["kind"] == "note" and memory["claims"] == []


@pytest.mark.parametrize(("body", "code"), [
    (b"{oops", "invalid_json_body"),
    (b"null", "invalid_json_body"),
    (b'{"text": "I live in Oslo"}', "subject_id_required"),
    (b'{"subject_id": "u1", "text": "  "}', "text_required"),
])
async def test_extract_rejects_bad_input(api: httpx.AsyncClient, body: bytes,
                                         code: str) -> None:
    response = await api.post("/api/v1/memories/extract", headers=project(), content=body)
    assert response.status_code == 400 and response.json() == {"error": code}


async def test_extract_with_learn_stores_memories_and_claims(api: httpx.AsyncClient,
                                                             system: System) -> None:
    headers = project()
    response = await api.post("/api/v1/memories/extract?learn=true", headers=headers, json={
        "subject_id": "u1", "text": "My name is Ada and I work at Initech", "force": True})
    assert response.status_code == 200
    body = response.json()
    [learned] = body["memories"]
    assert body == {"ok": True, "mode": "simple", "learned": True, "extracted_count": 1,
                    "learned_memory_count": 1, "learned_claim_count": 2,
                    "memories": [learned]}
    assert learned["kind"] == "fact" and len(learned["claim_ids"]) == 2
    memory = (await api.get(f"/api/v1/memories/{learned['memory_id']}",
                            headers=headers)).json()["data"]
    assert memory["source_type"] == "inferred" and memory["importance"] == 70
    assert memory["metadata"] == {"extracted_via": "simple", "force": True}
    assert memory["confidence"] == 0.75 and memory["tags"] == ["simple_mode"]
    signal = await create(api, headers, "u2", "I like tea")
    await eventually(lambda: memory_claims(api, headers, signal))
    await system.wait_projected()
    assert await memory_claims(api, headers, learned["memory_id"]) == [
        ("name", "Ada"), ("works_at", "Initech")]
    slots = {s["slot"]: s["active_claim_id"] for s in (await truth(api, headers, "u1"))["slots"]}
    assert sorted(slots.values()) == sorted(learned["claim_ids"])


async def test_replay_rebuilds_extracted_claims_without_extracting(
        api: httpx.AsyncClient, system: System) -> None:
    headers = project()
    memory_id = await create(api, headers, "u1", YELLOW_AUSTIN)
    await eventually(lambda: memory_claims(api, headers, memory_id))
    await api.post("/api/v1/memories/extract", headers=headers, json={
        "subject_id": "u1", "text": "My favorite color is green", "learn": True})
    await system.wait_projected()
    replay = await replay_into_fresh_database(system)
    for table, order in (("claims", "claim_id"), ("claim_edges", "edge_id"),
                         ("slot_state", "slot"), ("claim_assertions", "assertion_id")):
        live = await table_rows(system.dsn, table, headers["x-project-id"], order)
        assert live and await table_rows(replay, table, headers["x-project-id"], order) == live


# --- an LLM engine on the OpenAI stub --------------------------------------------------

@pytest.fixture(scope="module")
async def llm_system(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_system(infra, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": stub.base_url,
                                             "CORE_AI_MODE": "openai"})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def llm_api(llm_system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with llm_system.client() as client:
        yield client


def reply(*claims: tuple[str, str]) -> dict[str, Any]:
    return {"memories": [{"text": "fact", "claims": [
        {"predicate": p, "object_value": v, "claim_type": "llm_type"} for p, v in claims]}]}


async def test_memory_deleted_during_extraction_gets_no_claims(
        llm_api: httpx.AsyncClient, llm_system: System, stub: OpenAIStub) -> None:
    headers, before = project(), len(stub.requests("extract"))
    stub.script("extract", reply(("lives_in", "Austin")), delay=3)
    doomed = await create(llm_api, headers, "u1", "I live in Austin")
    assert await eventually(lambda: asyncio.sleep(0, len(stub.requests("extract")) > before))
    assert (await llm_api.delete(f"/api/v1/memories/{doomed}", headers=headers)).json()[
        "deleted"] is True
    stub.script("extract", reply(("works_at", "Acme")))
    signal = await create(llm_api, headers, "u2", "I work at Acme")
    assert await eventually(lambda: memory_claims(llm_api, headers, signal)) == [
        ("works_at", "Acme")]
    await llm_system.wait_projected()
    assert (await truth(llm_api, headers, "u1"))["slot_count"] == 0
    graph = await llm_api.get("/api/v1/claims/subject/u1/graph", headers=headers)
    assert graph.json()["claims_count"] == 0


async def test_llm_claims_are_flattened_to_twenty(llm_api: httpx.AsyncClient,
                                                  stub: OpenAIStub) -> None:
    headers = project()
    many = [(f"fact_{n:02d}", f"value {n}") for n in range(25)]
    stub.script("extract", reply(*many[:3], ("FACT_00", "VALUE 0"), *many[3:]))
    memory_id = await create(llm_api, headers, "u1", "A long story about me")
    claims = await eventually(lambda: memory_claims(llm_api, headers, memory_id))
    assert claims == sorted(many[:20])
    slots = (await truth(llm_api, headers, "u1"))["slots"]
    assert {s["claim_type"] for s in slots} == {"llm_type"} and len(slots) == 20


async def test_llm_extract_route_reports_its_engine(llm_api: httpx.AsyncClient,
                                                    stub: OpenAIStub) -> None:
    stub.script("extract", reply(("name", "Bob")))
    response = await llm_api.post("/api/v1/memories/extract", headers=project(), json={
        "subject_id": "u1", "text": "call me Bob", "learn": True})
    body = response.json()
    assert response.status_code == 200 and body["mode"] == "openai:gpt-4o-mini"
    assert body["learned_claim_count"] == 1 and body["memories"][0]["text"] == "fact"
