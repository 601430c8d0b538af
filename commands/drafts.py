"""A validated command waiting for its embedding: the step shared by the HTTP routes (one
request or a batch) and the Kafka command intake, so all of them validate, embed and build
events the same way.

A drafter turns a body into a `Draft` or raises `Invalid` with the single route's error
(status and body). The caller embeds `embed_text` (alone or with a batch's other texts) and
builds the event's payload from the vector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kernel.ids import uuid7
from kernel.timefmt import now_ms
from schemas.decoding import LATEST
from schemas.envelope import EventEnvelope

Payload = Callable[[list[float]], dict[str, Any]]


@dataclass(frozen=True)
class Draft:
    event_type: str
    subject_id: str
    embed_text: str | None
    payload: Payload


@dataclass(frozen=True)
class Answer:
    """A command settled without an event (e.g. deleting an unknown memory: 200)."""

    status: int
    body: dict[str, Any]


def draft_event(draft: Draft, embedding: list[float], *, project_id: str, actor: str,
                idempotency_key: str | None) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid7(), type=draft.event_type, v=LATEST[draft.event_type],
        project_id=project_id,
        subject_id=draft.subject_id, occurred_at=now_ms(), actor=actor,
        idempotency_key=idempotency_key, payload=draft.payload(embedding))
