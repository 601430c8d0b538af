"""Building the `memory.recalled` payload from search hits (spec §15 Q14)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest

from commands.record_recall import recall_event_id, recalled_payload
from queries.memory_claims import assertion_api

pytestmark = pytest.mark.unit
HITS: list[dict[str, Any]] = [
    {"id": "mem_a", "text": "likes tea", "score": 91.5, "effective_score": 80},
    {"id": "mem_b", "text": "lives in Oslo", "score": "n/a"},
]


def counter_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"evt_{next(numbers)}"


def test_event_ids_are_evt_uuid4() -> None:
    assert re.fullmatch(r"evt_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        recall_event_id())


def test_one_recall_per_hit_with_defaults() -> None:
    payload = recalled_payload(HITS, {"chat_id": " chat-1 "}, new_id=counter_ids())
    assert payload is not None
    assert payload.model_dump() == {
        "recalls": [
            {"event_id": "evt_1", "memory_id": "mem_a", "similarity_score": 91.5},
            {"event_id": "evt_2", "memory_id": "mem_b", "similarity_score": 0.0},
        ],
        "chat_id": "chat-1", "message_index": 0, "model": "", "request_type": "chat",
        "metadata": {},
    }


def test_query_string_values_are_coerced() -> None:
    payload = recalled_payload(HITS[:1], {"chat_id": "c", "message_index": "7.9",
                                          "model": " gpt ", "request_type": "api",
                                          "metadata": {"k": 1}})
    assert payload is not None
    assert (payload.message_index, payload.model, payload.request_type, payload.metadata) == (
        7, "gpt", "api", {"k": 1})


@pytest.mark.parametrize(("raw", "expected"), [
    ("abc", 0), (None, 0), (3, 3), ("1e12", 2**31 - 1), (-5, -5), ("", 0)])
def test_message_index_is_an_int32(raw: object, expected: int) -> None:
    payload = recalled_payload(HITS[:1], {"chat_id": "c", "message_index": raw})
    assert payload is not None and payload.message_index == expected


def test_nothing_to_record_without_chat_or_hits() -> None:
    assert recalled_payload(HITS, {}) is None
    assert recalled_payload(HITS, {"chat_id": "   "}) is None
    assert recalled_payload([], {"chat_id": "c"}) is None


@pytest.mark.parametrize(("object_type", "value"), [
    ("string", "blue"), ("number", 4.5), ("date", "2025-01-01"), ("json", {"a": 1}),
    ("weird", "blue"),
])
def test_assertion_value_follows_its_type(object_type: str, value: object) -> None:
    row = {"assertion_id": "ast_1", "predicate": "p", "object_type": object_type,
           "value_string": "blue", "value_number": 4.5, "value_date": "2025-01-01",
           "value_json": {"a": 1}, "confidence": 0.8, "status": "active",
           "first_seen_at": None, "last_seen_at": None}
    assert assertion_api(row)["value"] == value
