"""SSE over real HTTP, Kafka and Postgres (§10, §15 Q23), across two API processes.

Process A is the shared system's API; process B (`replica`) is a second `core serve` of the
same deployment with a 300 ms heartbeat, a 50-change queue and embeddings from the stub.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

from kernel.kafka import new_producer, subject_key
from tests.support.openai_stub import OpenAIStub
from tests.support.sse_reader import EventReader, Frame, open_stream
from tests.support.system import System

pytestmark = pytest.mark.integration
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
POSITION = re.compile(r"^\d+(\.\d+){3}$")
CREATED_KEYS = ["id", "subject_id", "text", "kind", "visibility", "importance", "tags",
                "created_at"]


@pytest.fixture(scope="module")
def replica(system: System, stub: OpenAIStub) -> Iterator[System]:
    started = system.start_replica({"CORE_SSE_HEARTBEAT_MS": "300", "CORE_SSE_QUEUE_MAX": "50",
                                    "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.base_url})
    try:
        yield started
    finally:
        started.stop()


def new_project() -> str:
    return f"sse-{uuid.uuid4().hex[:10]}"


async def remember(system: System, project: str, subject: str, text: str) -> dict[str, Any]:
    async with system.client() as client:
        response = await client.post("/api/v1/memories", headers={"x-project-id": project},
                                     json={"subject_id": subject, "text": text})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored(system: System, project: str, memory_id: str) -> dict[str, Any]:
    async with system.client() as client:
        response = await client.get(f"/api/v1/memories/{memory_id}",
                                    headers={"x-project-id": project})
    data: dict[str, Any] = response.json()["data"]
    return data


def connected(stream_frame: Frame | None) -> Frame:
    assert stream_frame is not None and stream_frame.event == "connected"
    return stream_frame


async def until_end(stream: EventReader) -> AsyncIterator[Frame]:
    while (found := await stream.frame(30)) is not None:
        yield found


def texts(frames: list[Frame]) -> list[str]:
    return [f.data["text"] for f in frames]


async def test_headers_and_connected_frame(replica: System) -> None:
    project = new_project()
    async with open_stream(replica, project, subject="  u1  ") as stream:
        headers = stream.response.headers
        assert stream.response.status_code == 200
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-cache, no-transform"
        assert headers["connection"] == "keep-alive" and headers["x-accel-buffering"] == "no"
        first = connected(await stream.frame())
        assert list(first.data) == ["project_id", "subject_id", "timestamp"]
        assert first.data["project_id"] == project and first.data["subject_id"] == "u1"
        assert ISO_MS.match(first.data["timestamp"]) and POSITION.match(first.id or "")
    async with open_stream(replica, project, subject="") as stream:
        assert (connected(await stream.frame())).data["subject_id"] is None


async def test_heartbeat_carries_only_a_timestamp(replica: System) -> None:
    async with open_stream(replica, new_project()) as stream:
        connected(await stream.frame())
        beats = [await stream.frame(3), await stream.frame(3)]
        for beat in beats:
            assert beat is not None and beat.event == "heartbeat"
            assert list(beat.data) == ["timestamp"] and ISO_MS.match(beat.data["timestamp"])
            assert POSITION.match(beat.id or "")


async def test_write_through_one_instance_reaches_a_subscriber_on_another(
        system: System, replica: System) -> None:
    project = new_project()
    async with open_stream(replica, project, subject="u1") as stream:
        connected(await stream.frame())
        created = await remember(system, project, "u1", "I live in Lisbon")
        frame = await stream.event()
        row = await stored(system, project, created["id"])
        assert frame.event == "memory.created" and POSITION.match(frame.id or "")
        assert list(frame.data) == CREATED_KEYS
        assert frame.data == {"id": created["id"], "subject_id": "u1", "text": "I live in Lisbon",
                              "kind": "fact", "visibility": "private", "importance": 50,
                              "tags": [], "created_at": row["created_at"]}
        assert frame.raw_data == orjson.dumps(frame.data).decode()
        assert await stream.quiet(1) == []  # the internal extraction request never shows


async def test_subject_filter_and_project_wide(system: System, replica: System) -> None:
    project = new_project()
    async with open_stream(replica, project, subject="s1") as one, \
            open_stream(replica, project) as wide:
        connected(await one.frame())
        connected(await wide.frame())
        await remember(system, project, "s2", "s2 likes tea")
        await remember(system, project, "s1", "s1 likes coffee")
        assert sorted(texts(await wide.events(2))) == ["s1 likes coffee", "s2 likes tea"]
        assert texts([await one.event()]) == ["s1 likes coffee"]
        assert await one.quiet(1) == []


async def test_other_projects_never_leak(system: System, replica: System) -> None:
    first, second = new_project(), new_project()
    async with open_stream(replica, first) as theirs, \
            open_stream(replica, second) as mine, \
            open_stream(replica, second, subject="x") as mine_x:
        for stream in (theirs, mine, mine_x):
            connected(await stream.frame())
        await remember(system, first, "x", "someone else's secret")
        assert texts([await theirs.event()]) == ["someone else's secret"]
        await remember(system, second, "x", "my own note")
        assert texts([await mine.event()]) == ["my own note"]
        assert texts([await mine_x.event()]) == ["my own note"]


async def test_reconnect_receives_exactly_what_was_missed(system: System,
                                                          replica: System) -> None:
    project = new_project()
    async with open_stream(replica, project) as stream:
        connected(await stream.frame())
        await remember(system, project, "s0", "before the disconnect")
        last_id = (await stream.event()).id
    missed = [f"note {i} of s{i % 4}" for i in range(8)]
    for i, text in enumerate(missed):
        await remember(system, project, f"s{i % 4}", text)
    for instance in (replica, system):  # a position is valid on every instance
        async with open_stream(instance, project, last_id=last_id) as stream:
            assert (connected(await stream.frame())).id is None
            got = await stream.events(len(missed))  # and nothing it had already
            assert sorted(texts(got)) == sorted(missed)
            for subject in range(4):  # each subject's changes in write order
                mine = [t for t in texts(got) if t.endswith(f"s{subject}")]
                assert mine == [t for t in missed if t.endswith(f"s{subject}")]
            assert len({f.id for f in got}) == len(got)
            missed.append(f"live {instance.port} of s1")
            await remember(system, project, "s1", missed[-1])
            assert texts([await stream.event()]) == [missed[-1]]
            assert await stream.quiet(1) == []


@pytest.mark.parametrize("last_id", ["nonsense", "1.2", "999999999.999999999.999999999.9"])
async def test_unusable_position_resets_and_continues_live(system: System, replica: System,
                                                           last_id: str) -> None:
    project = new_project()
    async with open_stream(replica, project, last_id=last_id) as stream:
        assert (connected(await stream.frame())).id is None
        reset = await stream.event()
        assert reset.event == "reset" and reset.data == {"reason": "position_unavailable"}
        assert POSITION.match(reset.id or "")
        await remember(system, project, "u", "after a reset")
        assert texts([await stream.event()]) == ["after a reset"]


async def test_lifecycle_frames(system: System, replica: System) -> None:
    project = new_project()
    headers = {"x-project-id": project}
    async with open_stream(system, project, subject="u") as stream, replica.client() as b:
        connected(await stream.frame())
        blue = await remember(replica, project, "u", "My favorite color is blue")
        green = await remember(replica, project, "u", "My favorite color is green")
        assert green["superseded_ids"] == [blue["id"]]
        await b.patch(f"/api/v1/memories/{green['id']}", headers=headers, json={"importance": 9})
        await b.post(f"/api/v1/memories/{blue['id']}/restore", headers=headers)
        await b.delete(f"/api/v1/memories/{green['id']}", headers=headers)
        frames = [(f.event, f.data) for f in await stream.events(6)]
    assert [e for e, _ in frames[:2]] == ["memory.created", "memory.created"]
    assert frames[2:] == [
        ("memory.superseded", {"id": blue["id"], "superseded_by": green["id"]}),
        ("memory.updated", {"id": green["id"], "subject_id": "u"}),
        ("memory.updated", {"id": blue["id"], "status": "active"}),
        ("memory.deleted", {"id": green["id"]}),
    ]


async def produce_changes(system: System, project: str, subject: str,
                          changes: list[tuple[str, dict[str, Any]]],
                          partition: int | None = None) -> int:
    """Writes changes to the changes topic as the outbox relay does; returns the partition."""
    producer = new_producer(system.settings())
    await producer.start()
    try:
        sent = [await producer.send(system.settings().changes_topic, orjson.dumps({
            "change_id": uuid.uuid4().hex, "type": kind, "project_id": project,
            "subject_id": subject, "occurred_at": "2026-01-01T00:00:00+00:00",
            "source_event_id": "test", "payload": payload}), key=subject_key(project, subject),
            partition=partition)
            for kind, payload in changes]
        return (await sent[-1]).partition
    finally:
        await producer.stop()


async def test_claim_changes_only_for_clients_that_ask(system: System, replica: System) -> None:
    project = new_project()
    changes = [("claim.asserted", {"claim_id": "clm_1"}),
               ("memory.extraction_requested", {"id": "mem_1", "text": "x"}),
               ("slot.changed", {"slot": "city"}), ("memory.deleted", {"id": "mem_1"})]
    async with open_stream(replica, project) as default, \
            open_stream(replica, project, include="claims") as asking:
        connected(await default.frame())
        connected(await asking.frame())
        await produce_changes(system, project, "u", changes)
        assert [(f.event, f.data) for f in await asking.events(3)] == [
            changes[0], changes[2], changes[3]]
        assert [(f.event, f.data) for f in [await default.event()]] == [changes[3]]


async def test_slow_subscriber_is_cut_off_and_resumes_without_loss(
        system: System, replica: System) -> None:
    project, bystander, total = new_project(), new_project(), 1500
    flood = [("memory.created", {"id": f"mem_{i}", "text": f"{i:05d}" + "x" * 8000})
             for i in range(total)]
    async with open_stream(replica, project) as slow, open_stream(replica, bystander) as other:
        connected(await slow.frame())
        connected(await other.frame())
        partition = await produce_changes(system, project, "u", flood)  # `slow` reads none yet
        await produce_changes(system, bystander, "b", [("memory.deleted", {"id": "mem_b"})],
                              partition)  # same partition: dispatched after the whole flood
        assert (await other.event(30)).data == {"id": "mem_b"}
        first = [frame async for frame in until_end(slow)]
    assert first[-1].event == "overflow" and len(first) < total
    delivered = [f for f in first if f.event == "memory.created"]
    async with open_stream(replica, project, last_id=delivered[-1].id) as again:
        connected(await again.frame())
        rest = await again.events(total - len(delivered), timeout=30)
    order = [int(f.data["text"][:5]) for f in delivered + rest]
    assert order == list(range(total))



async def test_shutdown_ends_open_streams_promptly(system: System) -> None:
    extra = system.start_replica()
    try:
        async with open_stream(extra, new_project()) as stream:
            connected(await stream.frame())
            started = time.monotonic()
            await asyncio.to_thread(extra.stop)
            assert time.monotonic() - started < 10
            assert await stream.frame() is None and stream.ended_cleanly
    finally:
        extra.stop()
