"""The subject timeline: every applied event, in log order, without embeddings."""

from __future__ import annotations

from typing import Any

import asyncpg

from projections.unit_of_work import Position
from schemas.envelope import EventEnvelope
from schemas.outcomes import Outcome

TimelineRow = tuple[Any, ...]


def without_vectors(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_vectors(v) for k, v in value.items() if k != "embedding"}
    if isinstance(value, list):
        return [without_vectors(v) for v in value]
    return value


def timeline_row(event: EventEnvelope, position: Position, outcome: Outcome | None) -> TimelineRow:
    return (event.project_id, event.subject_id, position.partition, position.offset,
            event.event_id, event.type, event.v, event.occurred_at, event.actor,
            event.idempotency_key, without_vectors(event.payload),
            outcome.status if outcome else None)


async def store_timeline(conn: asyncpg.Connection, rows: list[TimelineRow]) -> None:
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO subject_events (project_id, subject_id, topic_partition, log_offset, "
        "event_id, type, v, occurred_at, actor, idempotency_key, payload, outcome_status) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING", rows)
