"""A resume's catch-up is bounded and shared (issue item 4), over real HTTP, Kafka, Postgres.

The attack: `Last-Event-ID` of zeros made every resume read the whole changes topic (every
tenant's records) with a consumer of its own. Process `resumer` allows 40 changes of
catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.test_sse import POSITION, connected, produce_changes
from tests.support.sse_reader import EventReader, open_stream
from tests.support.system import System

pytestmark = pytest.mark.integration
CATCHUP_MAX = 40
READS = re.compile(r"^core_sse_catchup_reads_total (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def resumer(system: System) -> Iterator[System]:
    started = system.start_replica({"CORE_SSE_CATCHUP_MAX": str(CATCHUP_MAX)})
    try:
        yield started
    finally:
        started.stop()


def deletions(prefix: str, count: int) -> list[tuple[str, dict[str, object]]]:
    return [("memory.deleted", {"id": f"{prefix}_{i}"}) for i in range(count)]


async def catchup_reads(system: System) -> float:
    async with system.client() as client:
        found = READS.search((await client.get("/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def position_after(system: System, project: str, prefix: str, count: int) -> str:
    """Writes `count` changes and returns the position just after the last (a watcher saw
    them all, so the process's live position is past them too)."""
    async with open_stream(system, project) as watcher:
        connected(await watcher.frame())
        await produce_changes(system, project, "u", deletions(prefix, count))
        seen = await watcher.events(count)
    assert [f.data["id"] for f in seen] == [f"{prefix}_{i}" for i in range(count)]
    assert seen[-1].id is not None
    return seen[-1].id


async def test_resume_from_the_beginning_resets_without_reading(system: System,
                                                                 resumer: System) -> None:
    project = f"cu-{uuid.uuid4().hex[:10]}"
    await position_after(resumer, project, "old", CATCHUP_MAX + 10)
    reads = await catchup_reads(resumer)
    async with open_stream(resumer, project, last_id="0.0.0.0") as stream:
        assert connected(await stream.frame()).id is None
        reset = await stream.event()
        assert reset.event == "reset" and reset.data == {"reason": "too_far_behind"}
        assert POSITION.match(reset.id or "")
        await produce_changes(system, project, "u", deletions("live", 1))
        assert (await stream.event()).data == {"id": "live_0"}
        assert await stream.quiet(1) == []
    assert await catchup_reads(resumer) == reads  # no consumer was opened for it


async def test_resume_within_the_bound_gets_exactly_what_was_missed(system: System,
                                                                    resumer: System) -> None:
    project = f"cu-{uuid.uuid4().hex[:10]}"
    last_id = await position_after(resumer, project, "seen", 3)
    await produce_changes(system, project, "u", deletions("missed", 5))
    async with open_stream(resumer, project, last_id=last_id) as stream:
        assert connected(await stream.frame()).id is None
        got = await stream.events(5)
        assert [f.data["id"] for f in got] == [f"missed_{i}" for i in range(5)]
        assert [f.event for f in got] == ["memory.deleted"] * 5
        assert await stream.quiet(1) == []


async def test_concurrent_resumes_share_one_catch_up_read(system: System,
                                                         resumer: System) -> None:
    project, count = f"cu-{uuid.uuid4().hex[:10]}", 12
    last_id = await position_after(resumer, project, "seen", 1)
    missed = [("memory.deleted", {"id": f"missed_{i}"}) for i in range(6)]
    for i in range(6):  # spread over partitions
        await produce_changes(system, project, f"s{i}", missed[i:i + 1])
    reads = await catchup_reads(resumer)
    async with contextlib.AsyncExitStack() as stack:
        streams: list[EventReader] = await asyncio.gather(*(
            stack.enter_async_context(open_stream(resumer, project, last_id=last_id))
            for _ in range(count)))
        for stream in streams:
            assert connected(await stream.frame()).id is None
            got = [f.data["id"] for f in await stream.events(len(missed))]
            assert sorted(got) == sorted(str(m[1]["id"]) for m in missed)
            assert await stream.quiet(0.2) == []
    assert await catchup_reads(resumer) == reads + 1
