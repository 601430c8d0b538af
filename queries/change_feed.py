"""The SSE change feed's pure parts: decoded changes, subscriber filters and stream positions.

A stream position is the next offset of every partition of the changes topic, written as
a dot-separated list (`"12.0.7.3"` = partition 0 resumes at 12, partition 1 at 0, ...).
Everything below a partition's entry has been seen by the stream (delivered, or skipped
because it did not match), so a client that resumes from it misses nothing and gets
nothing twice.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas import changes

MEMORY_TYPES = changes.MEMORY_CHANGES
CLAIM_TYPES = changes.CLAIM_CHANGES

# The outbox stores payloads as JSONB, which reorders keys; frames restore the spec's order.
PAYLOAD_KEYS: dict[str, tuple[str, ...]] = {
    changes.MEMORY_CREATED: ("id", "subject_id", "text", "kind", "visibility", "importance",
                             "tags", "created_at"),
    changes.MEMORY_SUPERSEDED: ("id", "superseded_by"),
    changes.MEMORY_UPDATED: ("id", "subject_id", "status"),
    changes.MEMORY_DELETED: ("id",),
}


@dataclass(frozen=True)
class FeedChange:
    change_id: str
    type: str
    project_id: str
    subject_id: str
    payload: dict[str, Any]


def decode_change(raw: bytes | None) -> FeedChange | None:
    """A changes-topic message, or None when it is not one (it still advances positions)."""
    try:
        body = orjson.loads(raw or b"")
        return FeedChange(str(body["change_id"]), str(body["type"]), str(body["project_id"]),
                          str(body["subject_id"]), dict(body["payload"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def ordered_payload(change: FeedChange) -> dict[str, Any]:
    keys = PAYLOAD_KEYS.get(change.type, ())
    first = {k: change.payload[k] for k in keys if k in change.payload}
    return {**first, **{k: v for k, v in change.payload.items() if k not in first}}


def requested_types(include: str | None) -> frozenset[str]:
    """The four memory types; `include=claims` adds the claim and slot types (§15 Q23),
    `include=subject.forgotten` the announcement that a subject was forgotten."""
    asked = {part.strip().lower() for part in (include or "").split(",")}
    types = MEMORY_TYPES | CLAIM_TYPES if "claims" in asked else MEMORY_TYPES
    return types | {changes.SUBJECT_FORGOTTEN} if changes.SUBJECT_FORGOTTEN in asked else types


@dataclass(frozen=True)
class StreamFilter:
    project_id: str
    subject_id: str | None
    types: frozenset[str] = MEMORY_TYPES

    def accepts(self, change: FeedChange) -> bool:
        return (change.project_id == self.project_id and change.type in self.types
                and (self.subject_id is None or change.subject_id == self.subject_id))


def format_position(next_offsets: Iterable[int]) -> str:
    return _format(tuple(next_offsets))


@functools.lru_cache(maxsize=4096)
def _format(next_offsets: tuple[int, ...]) -> str:
    """Every live subscriber of a change carries the same position: format it once."""
    return ".".join(map(str, next_offsets))


def _is_offset(text: str) -> bool:
    """ASCII digits that fit a Kafka offset (int64); anything else is a malformed id."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def parse_position(text: str, partitions: int) -> tuple[int, ...] | None:
    parts = text.strip().split(".")
    if len(parts) != partitions or not all(_is_offset(p) for p in parts):
        return None
    return tuple(int(p) for p in parts)


class Cursor:
    """What one stream has seen: the next offset per partition, plus recent change ids
    (the relay delivers at least once, so a change can appear twice in the topic)."""

    def __init__(self, start: Sequence[int], remember: int = 2048) -> None:
        self.next = list(start)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def seen(self, partition: int, offset: int) -> bool:
        return offset < self.next[partition]

    def advance(self, partition: int, offset: int, snapshot: Sequence[int] = ()) -> None:
        self.next[partition] = max(self.next[partition], offset + 1)
        self.merge(snapshot)

    def merge(self, snapshot: Sequence[int]) -> None:
        if len(snapshot) == len(self.next):
            self.next = list(map(max, self.next, snapshot))
            return
        for partition, offset in enumerate(snapshot):
            self.next[partition] = max(self.next[partition], offset)

    def reset(self, start: Sequence[int]) -> None:
        self.next = list(start)

    def first_time(self, change_id: str) -> bool:
        if change_id in self._recent:
            return False
        self._recent[change_id] = None
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        return True

    def token(self) -> str:
        return format_position(self.next)
