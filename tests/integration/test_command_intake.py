"""The Kafka command intake: commands published to `<prefix>.commands` become the same
events as the HTTP routes' (actor = the credential's principal), refused ones land on
`<prefix>.commands.rejected` with the reason, and a worker SIGKILLed mid-stream applies
every command exactly once."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from core.auth.api_keys import create_key
from tests.support.system import REPO, Infra, System, start_system
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[System]:
    started = await start_system(infra)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def producer(intake: System) -> AsyncIterator[AIOKafkaProducer]:
    started = AIOKafkaProducer(bootstrap_servers=intake.infra.bootstrap, acks="all",
                               enable_idempotence=True)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def send(producer: AIOKafkaProducer, system: System, command: dict[str, Any],
               credential: str | None = None, header: str = "x-api-key") -> None:
    headers = [] if credential is None else [(header, credential.encode())]
    key = f"{command.get('project_id')}/{command.get('subject_id', 'u1')}".encode()
    await producer.send_and_wait(system.settings().commands_topic, orjson.dumps(command),
                                 key=key, headers=headers)


async def fetch(system: System, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(system.dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def key_with(system: System, projects: list[str], scopes: list[str]) -> tuple[str, str]:
    conn = await asyncpg.connect(system.dsn)
    try:
        return await create_key(conn, name="intake", projects=projects, scopes=scopes)
    finally:
        await conn.close()


async def rejected(system: System) -> list[dict[str, Any]]:
    settings = system.settings()
    consumer = AIOKafkaConsumer(bootstrap_servers=system.infra.bootstrap)
    await consumer.start()
    try:
        parts = [TopicPartition(settings.rejected_commands_topic, p)
                 for p in range(settings.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        found: list[dict[str, Any]] = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                found += [orjson.loads(r.value) for r in batch]
        return found
    finally:
        await consumer.stop()


def project() -> str:
    return f"k-{uuid.uuid4().hex[:8]}"


async def test_every_command_type_becomes_its_event_with_the_principal_as_actor(
        intake: System, producer: AIOKafkaProducer) -> None:
    pid = project()
    key_id, key = await key_with(intake, [pid], ["memories:write", "claims:write"])

    async def command(kind: str, **body: Any) -> None:
        await send(producer, intake, {"type": kind, "project_id": pid,
                                      "idempotency_key": str(uuid.uuid4()), **body}, key)

    await command("memory.create", subject_id="u1", text="I live in Austin", id="m-1",
                  extract_claims=False)
    await command("claim.assert", subject_id="u1", predicate="lives_in",
                  object_value="Austin", claim_id="c-1")
    memory_rows = "SELECT text, is_deleted FROM memories WHERE project_id = $1 AND id = 'm-1'"
    await wait_until(lambda: fetch(intake, memory_rows, pid), "memory created", 60)
    await command("memory.patch", id="m-1", text="I live in Denver")
    await command("claim.retract", claim_id="c-1", reason="moved")
    await wait_until(lambda: _text_is(intake, pid, "I live in Denver"), "memory patched", 60)
    await command("memory.delete", id="m-1")
    await wait_until(lambda: _text_is(intake, pid, "I live in Denver", deleted=True),
                     "memory deleted", 60)
    events_sql = ("SELECT type, actor FROM subject_events WHERE project_id = $1 "
                  "ORDER BY type")
    events = await wait_until(
        lambda: _at_least(fetch(intake, events_sql, pid), 5), "five events", 60)
    assert [(e["type"], e["actor"]) for e in events] == [
        ("claim.asserted", key_id), ("claim.retracted", key_id), ("memory.deleted", key_id),
        ("memory.patched", key_id), ("memory.submitted", key_id)]
    [claim] = await fetch(intake, "SELECT status FROM claims WHERE project_id = $1", pid)
    assert claim["status"] == "retracted"


async def _at_least(rows: Any, n: int) -> Any:
    found = await rows
    return found if len(found) >= n else None


async def _text_is(system: System, pid: str, text: str, deleted: bool = False) -> bool:
    rows = await fetch(system, "SELECT text, is_deleted FROM memories WHERE project_id = $1 "
                       "AND id = 'm-1'", pid)
    return bool(rows) and (rows[0]["text"], rows[0]["is_deleted"]) == (text, deleted)


async def test_refused_commands_go_to_the_rejected_topic(
        intake: System, producer: AIOKafkaProducer) -> None:
    pid, other = project(), project()
    _, reader = await key_with(intake, [pid], ["memories:read"])
    _, writer = await key_with(intake, [pid], ["memories:write"])
    good = {"type": "memory.create", "project_id": pid, "subject_id": "u",
            "text": "refused", "idempotency_key": "k"}
    cases: list[tuple[dict[str, Any], str | None, str]] = [
        (good, None, "unauthorized"),
        (good, "core_not-a-key", "invalid_api_key"),
        (good, reader, "insufficient_scope"),
        ({**good, "project_id": other}, writer, "project_forbidden"),
        ({**good, "idempotency_key": ""}, writer, "idempotency_key_required"),
        ({**good, "type": "memory.explode"}, writer, "unknown_command_type"),
        ({**good, "text": ""}, writer, "text_required"),
        ({**good, "type": "claim.retract", "claim_id": "nope"}, writer, "insufficient_scope"),
        ({**good, "type": "memory.patch", "id": "nope"}, writer, "memory_not_found"),
    ]
    for number, (command, credential, _) in enumerate(cases):
        await send(producer, intake, {**command, "case": number, "run": pid}, credential)
    await producer.send_and_wait(intake.settings().commands_topic, f"not json {pid}".encode(),
                                 headers=[("x-api-key", writer.encode())])

    async def ours() -> list[dict[str, Any]]:
        found = [r for r in await rejected(intake)
                 if pid in r["original"]["value"]]
        return found if len(found) >= len(cases) + 1 else []

    found = await wait_until(ours, "all refusals", 60)
    by_case = {orjson.loads(r["original"]["value"]).get("case"): r for r in found
               if r["original"]["value"].startswith("{")}
    assert {n: by_case[n]["error"] for n in by_case} == {
        n: code for n, (_, _, code) in enumerate(cases)}
    assert by_case[6]["status"] == 400 and by_case[6]["detail"] == {"error": "text_required"}
    assert all(not r["original"]["headers"] for r in found)  # credentials never copied
    assert "invalid_json_body" in {r["error"] for r in found}
    assert await fetch(intake, "SELECT 1 FROM memories WHERE project_id = $1", pid) == []


TOTAL = 1500


async def test_a_sigkilled_worker_applies_each_command_once(
        infra: Infra, producer: AIOKafkaProducer) -> None:
    system = await start_system(infra, api=False)
    try:
        pid = project()
        texts = [f"kafka fact {i} {uuid.uuid4().hex[:6]}" for i in range(TOTAL)]

        async def publish() -> None:
            for i, text in enumerate(texts):
                await send(producer, system, {
                    "type": "memory.create", "project_id": pid, "subject_id": f"s{i % 7}",
                    "text": text, "idempotency_key": f"cmd-{i}", "extract_claims": False},
                    system.api_key)
                if i % 100 == 99:
                    await asyncio.sleep(0.05)  # a stream, not one burst

        async def crash() -> None:
            for _ in range(3):
                await asyncio.sleep(1.0)
                system.kill_worker()
                system.start_worker()

        await asyncio.gather(publish(), crash())
        count_sql = "SELECT count(*) AS n FROM memories WHERE project_id = $1"

        async def all_applied() -> bool:
            return (await fetch(system, count_sql, pid))[0]["n"] >= TOTAL

        await wait_until(all_applied, "every command applied", 180, interval=0.5)
        await system.wait_projected(timeout=120)
        per_text = await fetch(system, "SELECT text, count(*) AS n FROM memories "
                               "WHERE project_id = $1 GROUP BY text", pid)
        assert {r["text"]: r["n"] for r in per_text} == dict.fromkeys(texts, 1)
    finally:
        system.stop()


async def test_the_documented_producer_example_runs(intake: System) -> None:
    doc = (REPO / "docs" / "producers.md").read_text()
    [code] = re.findall(r"```python\n(.*?)```", doc, re.S)
    pid = project()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": intake.infra.bootstrap,
           "CORE_API_KEY": intake.api_key, "CORE_PROJECT": pid,
           "CORE_COMMANDS_TOPIC": intake.settings().commands_topic}
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", code, env=env)
    assert await asyncio.wait_for(process.wait(), 60) == 0
    rows = await wait_until(lambda: fetch(intake, "SELECT text, subject_id FROM memories "
                                          "WHERE project_id = $1", pid), "example applied", 60)
    assert [(r["text"], r["subject_id"]) for r in rows] == [("I live in Austin", "user_1")]
