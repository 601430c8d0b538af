"""SSE feed logic without a broker: positions, filters, cursor, fan-out and overflow."""

from __future__ import annotations

import orjson
import pytest
from aiokafka import ConsumerRecord

from queries.change_feed import (
    CLAIM_TYPES,
    MEMORY_TYPES,
    Cursor,
    FeedChange,
    StreamFilter,
    decode_change,
    ordered_payload,
    parse_position,
    requested_types,
)
from queries.change_tailer import ChangeTailer, Delivery, Signal

pytestmark = pytest.mark.unit


def change(project: str = "p", subject: str = "s", kind: str = "memory.created",
           change_id: str = "c1") -> FeedChange:
    return FeedChange(change_id, kind, project, subject, {"id": "m1"})


def record(partition: int, offset: int, body: FeedChange) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps({"change_id": body.change_id, "type": body.type,
                          "project_id": body.project_id, "subject_id": body.subject_id,
                          "occurred_at": "2026-01-01T00:00:00+00:00", "source_event_id": "e",
                          "payload": body.payload})
    return ConsumerRecord("t", partition, offset, 0, 0, None, value, None, 0, len(value), [])


def test_positions_round_trip_and_reject_foreign_ids() -> None:
    assert parse_position("12.0.7", 3) == (12, 0, 7)
    assert parse_position("12.0", 3) is None
    assert parse_position("a.b.c", 3) is None
    assert parse_position("-1.0.0", 3) is None
    assert parse_position("\u00b2.0.0", 3) is None  # a digit to str.isdigit, not to int()
    assert parse_position("9" * 19 + ".0.0", 3) is None  # beyond a Kafka offset


def test_memory_types_by_default_claims_on_request() -> None:
    assert requested_types(None) == MEMORY_TYPES
    assert requested_types("claims") == MEMORY_TYPES | CLAIM_TYPES
    assert requested_types("other, Claims") == MEMORY_TYPES | CLAIM_TYPES
    assert "memory.extraction_requested" not in requested_types("claims")


def test_filter_by_project_subject_and_type() -> None:
    wide, one = StreamFilter("p", None), StreamFilter("p", "s")
    assert wide.accepts(change(subject="x")) and not one.accepts(change(subject="x"))
    assert one.accepts(change()) and not one.accepts(change(project="q"))
    assert not wide.accepts(change(kind="memory.extraction_requested"))
    assert not wide.accepts(change(kind="claim.asserted"))


def test_payload_keys_follow_the_spec_order() -> None:
    shuffled = FeedChange("c", "memory.created", "p", "s", {
        "id": "m", "kind": "fact", "tags": [], "text": "t", "created_at": "x",
        "importance": 50, "subject_id": "s", "visibility": "private"})
    assert list(ordered_payload(shuffled)) == ["id", "subject_id", "text", "kind", "visibility",
                                               "importance", "tags", "created_at"]


def test_undecodable_messages_are_skipped() -> None:
    assert decode_change(b"not json") is None
    assert decode_change(b'{"type": "memory.created"}') is None
    assert decode_change(None) is None


def test_cursor_only_moves_forward_and_forgets_old_ids() -> None:
    cursor = Cursor((5, 0), remember=2)
    assert cursor.seen(0, 4) and not cursor.seen(0, 5)
    cursor.advance(0, 9, snapshot=(3, 7))
    assert cursor.token() == "10.7"
    assert cursor.first_time("a") and not cursor.first_time("a")
    cursor.first_time("b")
    cursor.first_time("c")
    assert cursor.first_time("a")


async def test_fan_out_filters_and_cuts_off_a_full_queue() -> None:
    tailer = ChangeTailer("127.0.0.1:1", "t", queue_max=2, partitions=2)
    try:
        slow = tailer.subscribe(StreamFilter("p", None))
        fast = tailer.subscribe(StreamFilter("p", "s"))
        other = tailer.subscribe(StreamFilter("q", None))
        for offset in range(3):
            tailer._dispatch(record(1, offset, change(change_id=f"c{offset}")))
            if offset < 2:
                item = await fast.next(1)
                assert isinstance(item, Delivery) and item.snapshot == (0, offset + 1)
        assert await slow.next(1) is Signal.OVERFLOW
        assert other.queue.empty() and tailer.positions == [0, 3]
        assert isinstance(await fast.next(1), Delivery)
        tailer.unsubscribe(fast)
        assert await fast.next(1) is Signal.CLOSED
    finally:
        await tailer.stop()
