"""A payload is validated once, at decode, and reaches the handler as its model."""

from __future__ import annotations

import orjson

from projections.unit_of_work import EventTx, Position
from schemas.decoding import decode_event, decode_typed
from schemas.memory_events import MemoryDeleted, MemorySubmitted

RAW = orjson.dumps({
    "event_id": "evt_1", "type": "memory.submitted", "v": 1, "project_id": "p",
    "subject_id": "s", "occurred_at": "2026-01-01T00:00:00Z", "actor": "a",
    "payload": {"id": "mem_1", "text": "likes tea"}})


def test_decode_gives_the_payload_as_its_registered_model() -> None:
    event, typed = decode_typed(RAW)
    assert event == decode_event(RAW)
    assert typed == MemorySubmitted(id="mem_1", text="likes tea", claims=None)  # upcast v1


def test_a_handler_gets_the_decoded_model_itself() -> None:
    event, typed = decode_typed(RAW)
    tx = EventTx(None, event, Position("t", 0, 0), typed=typed)
    assert tx.payload_as(MemorySubmitted) is typed


def test_without_it_or_for_another_model_the_payload_is_validated_then() -> None:
    event, typed = decode_typed(RAW)
    untyped = EventTx(None, event, Position("t", 0, 0))
    assert untyped.payload_as(MemorySubmitted) == typed
    other = EventTx(None, event, Position("t", 0, 0), typed=typed)
    assert other.payload_as(MemoryDeleted) == MemoryDeleted(id="mem_1")
