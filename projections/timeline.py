"""The subject timeline: every applied event, in log order, without embeddings."""

from __future__ import annotations

from typing import Any

import asyncpg

from projections.batch_writes import insert_rows
from projections.unit_of_work import Position
from schemas.envelope import EventEnvelope
from schemas.outcomes import Outcome

TimelineRow = tuple[Any, ...]


def without_vectors(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v if type(v) in SCALARS else without_vectors(v) for k, v in value.items()
                if k != "embedding"}
    if isinstance(value, list):
        return [v if type(v) in SCALARS else without_vectors(v) for v in value]
    return value


SCALARS = frozenset({str, int, float, bool, type(None)})
"""Values returned as they are without a call (the common case in a payload)."""


def timeline_row(event: EventEnvelope, position: Position, outcome: Outcome | None) -> TimelineRow:
    return (event.project_id, event.subject_id, position.partition, position.offset,
            event.event_id, event.type, event.v, event.occurred_at, event.actor,
            event.idempotency_key, without_vectors(event.payload),
            outcome.status if outcome else None)


TIMELINE_COLUMNS = (("project_id", "text"), ("subject_id", "text"), ("topic_partition", "int"),
                    ("log_offset", "bigint"), ("event_id", "text"), ("type", "text"),
                    ("v", "int"), ("occurred_at", "timestamptz"), ("actor", "text"),
                    ("idempotency_key", "text"), ("payload", "jsonb"), ("outcome_status", "int"))


async def store_timeline(conn: asyncpg.Connection, rows: list[TimelineRow]) -> None:
    if not rows:
        return
    await insert_rows(conn, "subject_events", TIMELINE_COLUMNS, rows, "ON CONFLICT DO NOTHING")
