"""Recall events end to end (spec §9, §15 Q14): the recorder the search route is given
produces `memory.recalled` on Kafka, the projector folds it into `memory_recall_events`,
and GET /api/v1/memories/recalls reads it back by chat, by memory and as stats."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from starlette.requests import Request

from commands.context import CommandContext
from commands.outcome_waiter import OutcomeWaiter
from commands.publisher import CommandBus
from commands.record_recall import Recorder, recall_recorder
from core.auth.api_keys import create_key
from kernel.db import create_pool
from kernel.kafka import new_producer
from kernel.routing import Call
from tests.support.system import System

pytestmark = pytest.mark.integration
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ROW_KEYS = ["event_id", "project_id", "subject_id", "memory_id", "memory_text", "chat_id",
            "message_index", "chat_logged", "similarity_score", "request_type", "model",
            "metadata", "recalled_at"]


@pytest.fixture
async def record(system: System) -> AsyncIterator[Recorder]:
    """The recorder wired exactly as the API wires it, in the test process."""
    settings = system.settings()
    producer = new_producer(settings)
    await producer.start()
    pool = await create_pool(system.dsn, max_size=2)
    bus = CommandBus(producer, OutcomeWaiter(pool, system.dsn), settings.events_topic, 5.0)
    try:
        yield recall_recorder(CommandContext(bus=bus, pool=pool))
    finally:
        await producer.stop()
        await pool.close()


def call_in(project_id: str) -> Call:
    request = Request({"type": "http", "method": "GET", "path": "/api/v1/memories/search",
                       "headers": [(b"idempotency-key", b"not-for-recalls")]})
    return Call(request, project_id, {})


@dataclass
class Recalled:
    headers: dict[str, str]
    tea: str
    oslo: str


async def create(api: httpx.AsyncClient, headers: dict[str, str], text: str, subject: str) -> str:
    response = await api.post("/api/v1/memories", headers=headers, json={
        "subject_id": subject, "text": text, "extract_claims": False})
    assert response.status_code == 201
    return str(response.json()["id"])


def hit(memory_id: str, text: str, score: float) -> dict[str, Any]:
    return {"id": memory_id, "text": text, "kind": "fact", "importance": 50,
            "is_temporal": False, "created_at": "2025-01-01T00:00:00.000Z", "score": score,
            "effective_score": score}


@pytest.fixture
async def recalled(api: httpx.AsyncClient, system: System, record: Recorder) -> Recalled:
    """Three searches: chat-1 turn 0 (tea, oslo), chat-1 turn 1 (tea), chat-2 (tea, by u2)."""
    headers = {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}
    tea = await create(api, headers, "I like tea", "u1")
    oslo = await create(api, headers, "I live in Oslo", "u1")
    call = call_in(headers["x-project-id"])
    # recalled_at is the event's occurred_at (ms): a pause keeps the three searches apart
    await record(call, "u1", [hit(tea, "I like tea", 91.5), hit(oslo, "I live in Oslo", 40)],
                 {"chat_id": "chat-1", "message_index": "0", "model": "gpt-x",
                  "metadata": {"turn": "first"}})
    await asyncio.sleep(0.005)
    await record(call, "u1", [hit(tea, "I like tea", 80), hit("mem_unknown", "ghost", 99)],
                 {"chat_id": "chat-1", "message_index": 1, "request_type": "api"})
    await asyncio.sleep(0.005)
    await record(call, "u2", [hit(tea, "I like tea", 60)], {"chat_id": "chat-2"})
    await record(call, "u1", [hit(tea, "I like tea", 10)], {"message_index": 5})  # no chat
    await system.wait_projected()
    return Recalled(headers, tea, oslo)


async def recalls(api: httpx.AsyncClient, headers: dict[str, str], **params: str) -> Any:
    response = await api.get("/api/v1/memories/recalls", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_by_chat_in_conversation_order(api: httpx.AsyncClient, recalled: Recalled) -> None:
    body = await recalls(api, recalled.headers, chat_id=" chat-1 ")
    assert body["chat_id"] == "chat-1" and body["count"] == 3
    rows = body["data"]
    assert [(r["memory_id"], r["message_index"]) for r in rows] == [
        (recalled.tea, 0), (recalled.oslo, 0), (recalled.tea, 1)]
    first = rows[0]
    assert list(first) == ROW_KEYS
    assert re.fullmatch(r"evt_[0-9a-f-]{36}", first["event_id"])
    assert len({r["event_id"] for r in rows}) == 3
    assert first | {"event_id": None, "recalled_at": None} == {
        "event_id": None, "project_id": recalled.headers["x-project-id"], "subject_id": "u1",
        "memory_id": recalled.tea, "memory_text": "I like tea", "chat_id": "chat-1",
        "message_index": 0, "chat_logged": True, "similarity_score": 91.5,
        "request_type": "chat", "model": "gpt-x", "metadata": {"turn": "first"},
        "recalled_at": None}
    assert (rows[2]["request_type"], rows[2]["model"], rows[2]["metadata"]) == ("api", "", {})
    assert all(ISO_MS.match(r["recalled_at"]) for r in rows)
    assert rows[0]["recalled_at"] <= rows[2]["recalled_at"]


async def test_chat_wins_over_memory(api: httpx.AsyncClient, recalled: Recalled) -> None:
    body = await recalls(api, recalled.headers, chat_id="chat-2", memory_id=recalled.oslo)
    assert set(body) == {"data", "count", "chat_id"}
    assert [(r["memory_id"], r["subject_id"]) for r in body["data"]] == [(recalled.tea, "u2")]


async def test_by_memory_newest_first_with_limit(api: httpx.AsyncClient,
                                                 recalled: Recalled) -> None:
    body = await recalls(api, recalled.headers, memory_id=recalled.tea)
    assert set(body) == {"data", "count", "memory_id"} and body["memory_id"] == recalled.tea
    assert [r["chat_id"] for r in body["data"]] == ["chat-2", "chat-1", "chat-1"]
    assert [r["similarity_score"] for r in body["data"]] == [60, 80, 91.5]
    limited = await recalls(api, recalled.headers, memory_id=recalled.tea, limit="1")
    assert limited["count"] == 1 and limited["data"][0]["chat_id"] == "chat-2"
    assert (await recalls(api, recalled.headers, memory_id=recalled.tea, limit="0"))["count"] == 1
    assert (await recalls(api, recalled.headers, memory_id=recalled.tea,
                          limit="abc"))["count"] == 3
    not_stats = await recalls(api, recalled.headers, memory_id=recalled.tea, stats="1")
    assert not_stats["count"] == 3


async def test_stats_of_a_memory(api: httpx.AsyncClient, recalled: Recalled) -> None:
    body = await recalls(api, recalled.headers, memory_id=recalled.tea, stats="TRUE")
    assert set(body) == {"memory_id", "stats"} and body["memory_id"] == recalled.tea
    stats = body["stats"]
    assert list(stats) == ["total_recalls", "unique_chats", "unique_subjects", "avg_score",
                           "first_recalled_at", "last_recalled_at"]
    assert (stats["total_recalls"], stats["unique_chats"], stats["unique_subjects"]) == (3, 2, 2)
    assert stats["avg_score"] == pytest.approx((91.5 + 80 + 60) / 3)
    assert ISO_MS.match(stats["first_recalled_at"]) and ISO_MS.match(stats["last_recalled_at"])
    assert stats["first_recalled_at"] <= stats["last_recalled_at"]


async def test_unknown_ids_give_empty_answers(api: httpx.AsyncClient, recalled: Recalled) -> None:
    headers = recalled.headers
    assert await recalls(api, headers, chat_id="nope") == {"data": [], "count": 0,
                                                           "chat_id": "nope"}
    assert await recalls(api, headers, memory_id="mem_nope") == {"data": [], "count": 0,
                                                                 "memory_id": "mem_nope"}
    assert await recalls(api, headers, memory_id="mem_nope", stats="true") == {
        "memory_id": "mem_nope", "stats": {
            "total_recalls": 0, "unique_chats": 0, "unique_subjects": 0, "avg_score": 0,
            "first_recalled_at": None, "last_recalled_at": None}}


async def test_recall_of_a_memory_not_in_the_project_is_dropped(
        api: httpx.AsyncClient, recalled: Recalled) -> None:
    ghost = await recalls(api, recalled.headers, memory_id="mem_unknown")
    assert ghost == {"data": [], "count": 0, "memory_id": "mem_unknown"}


async def test_other_projects_see_nothing(api: httpx.AsyncClient, recalled: Recalled) -> None:
    other = {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}
    assert (await recalls(api, other, chat_id="chat-1"))["count"] == 0
    assert (await recalls(api, other, memory_id=recalled.tea, stats="true"))["stats"][
        "total_recalls"] == 0


@pytest.mark.parametrize("params", [{}, {"chat_id": "  ", "memory_id": ""}, {"stats": "true"}])
async def test_missing_parameter(api: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await api.get("/api/v1/memories/recalls",
                             headers={"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}, params=params)
    assert response.status_code == 400
    assert response.json() == {"error": "missing_parameter",
                               "message": "Provide either chat_id or memory_id"}


async def recalled_records(system: System, project_id: str,
                           timeout: float = 30.0) -> list[bytes]:
    """The raw `memory.recalled` records of a project on the events topic."""
    settings = system.settings()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap(),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[bytes] = []
        deadline = time.monotonic() + timeout
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            if time.monotonic() > deadline:
                raise TimeoutError("events topic not read to its end")
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                found += [m.value for m in messages if m.value is not None
                          and (e := _event(m.value)).get("type") == "memory.recalled"
                          and e.get("project_id") == project_id]
        return found
    finally:
        await consumer.stop()


async def test_recall_events_copy_no_text(api: httpx.AsyncClient, system: System) -> None:
    """A read-only key's search writes the log (kept forever): ids and scores, never text."""
    project_id = f"p-{uuid.uuid4().hex[:8]}"
    secret = f"my locker code is zebra{uuid.uuid4().hex[:6]}"
    memory_id = await create(api, {"x-project-id": project_id}, secret, "u9")
    conn = await asyncpg.connect(system.dsn)
    try:
        _, key = await create_key(conn, name="reader", projects=[project_id],
                                  scopes=["memories:read"])
    finally:
        await conn.close()
    reader = {"x-project-id": project_id, "x-api-key": key}
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
        found = await client.get("/api/v1/memories/search", headers=reader, params={
            "subject_id": "u9", "q": "locker code", "chat_id": "chat-9"})
        assert [h["id"] for h in found.json()["data"]] == [memory_id], found.text
        await system.wait_projected()
        rows = (await client.get("/api/v1/memories/recalls", headers=reader,
                                 params={"chat_id": "chat-9"})).json()["data"]
    assert [(r["memory_id"], r["memory_text"]) for r in rows] == [(memory_id, secret)]
    records = await recalled_records(system, project_id)
    assert len(records) == 1 and orjson.loads(records[0])["v"] == 2
    assert memory_id.encode() in records[0] and b"zebra" not in records[0]


def _event(raw: bytes) -> dict[str, object]:
    """The record as JSON; {} for a record that is no event (other tests park poison here)."""
    try:
        found = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}
