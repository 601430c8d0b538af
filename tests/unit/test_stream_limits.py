"""SSE stream caps and the shared catch-up read, without Kafka."""

from __future__ import annotations

import asyncio

import pytest

from queries.shared_catchup import CatchUpFailed, Missed, SharedRead, changes_behind
from queries.stream_slots import Refusal, StreamLimits, StreamSlots

pytestmark = pytest.mark.unit


def test_changes_behind_sums_the_gaps_and_ignores_partitions_ahead() -> None:
    assert changes_behind((0, 5, 9), (10, 5, 20)) == 21
    assert changes_behind((12, 0), (10, 3)) == 3


def test_slots_refuse_at_each_cap_and_come_back() -> None:
    slots = StreamSlots(StreamLimits(per_project=2, per_principal=3, per_process=5))
    assert slots.take("p", "alice") is None and slots.take("p", "bob") is None
    assert slots.take("p", "carol") == Refusal("project", 2)
    assert slots.take("q", "alice") is None and slots.take("r", "alice") is None
    assert slots.take("s", "alice") == Refusal("principal", 3)
    assert slots.take("s", "dave") is None
    assert slots.take("t", "erin") == Refusal("process", 5)
    slots.give_back("p", "alice")
    assert slots.take("s", "alice") is None and slots.total == 5


def missed(offset: int) -> Missed:
    return Missed(0, offset, None)


async def collect(read: SharedRead) -> list[int]:
    return [record.offset async for record in read.follow()]


async def test_a_late_follower_gets_every_record_from_the_first() -> None:
    read = SharedRead((0,), (3,))
    first = asyncio.create_task(collect(read))
    read.checked(True)
    read.add(missed(0))
    await asyncio.sleep(0)
    read.extend((5,))  # a second stream, whose live part starts later, joins
    second = asyncio.create_task(collect(read))
    for offset in range(1, 5):
        read.add(missed(offset))
    assert read.stop == [5]
    read.finish(failed=False)
    assert await first == await second == [0, 1, 2, 3, 4]
    assert await read.is_available()


def test_a_finished_read_covers_only_what_it_read() -> None:
    read = SharedRead((0, 0), (4, 4))
    assert read.covers((9, 9))  # running: it will extend
    read.checked(True)
    read.finish(failed=False)
    read.extend((9, 9))
    assert read.stop == [4, 4]
    assert read.covers((4, 3)) and not read.covers((5, 4))


async def test_a_failed_read_fails_its_followers() -> None:
    read = SharedRead((0,), (3,))
    read.checked(True)
    read.add(missed(0))
    read.finish(failed=True)
    with pytest.raises(CatchUpFailed):
        await collect(read)
    assert not read.covers((1,))
