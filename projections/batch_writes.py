"""What a projector transaction writes besides the projection rows: partition positions,
outbox changes, command outcomes (announced with NOTIFY) and dead letters.

Every statement here runs inside the batch transaction, so a position never moves without
the rows, changes, outcomes and dead letters of the records below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from kernel.telemetry.tracing import traceparent
from projections.unit_of_work import Change
from schemas.changes import MEMORY_EXTRACTION_REQUESTED
from schemas.envelope import EventEnvelope
from schemas.outcomes import OUTCOME_CHANNEL, Outcome, outcome_notices

TopicPartition = tuple[str, int]
OUTBOX_COLUMNS = (("change_id", "text"), ("project_id", "text"), ("subject_id", "text"),
                  ("type", "text"), ("payload", "jsonb"), ("source_event_id", "text"),
                  ("occurred_at", "timestamptz"), ("trace_context", "text"))
EXTRACTION_COLUMNS = (("source_event_id", "text"), ("project_id", "text"), ("subject_id", "text"),
                      ("memory_id", "text"), ("text", "text"))
OUTCOME_COLUMNS = (("event_id", "text"), ("project_id", "text"), ("event_type", "text"),
                   ("status", "int"), ("body", "text"), ("idempotency_key", "text"),
                   ("decided_at", "timestamptz"), ("actor", "text"), ("subject_id", "text"))
REASON_MAX = 2000


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    record: Record
    reason: str


async def insert_rows(conn: asyncpg.Connection, into: str, columns: Sequence[tuple[str, str]],
                      rows: Sequence[Sequence[Any]], on_conflict: str = "") -> None:
    """One `INSERT … SELECT FROM unnest(…)` statement for all `rows`, in their order: a
    batch's rows cost one statement, not one execution each (`executemany`). `columns` are
    (name, SQL type) pairs; a type may not be an array (unnest flattens them)."""
    if not rows:
        return
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(columns, 1))
    await conn.execute(
        f"INSERT INTO {into} ({names}) SELECT {names} FROM unnest({arrays}) WITH ORDINALITY "
        f"AS u({names}, ord) ORDER BY ord {on_conflict}",
        *[list(column) for column in zip(*rows, strict=True)])


def json_list(items: Sequence[str]) -> str:
    """A list as JSON text, for an `unnest` column: a list itself would be taken for one more
    array dimension (and lists of unequal lengths refused)."""
    return orjson.dumps(list(items)).decode()


async def lock_positions(conn: asyncpg.Connection, consumer: str,
                         partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
    """The next offset of each partition, row-locked for this transaction. A missing row is
    created first, so two workers that both hold a new partition queue on the same row
    instead of both applying its first batch."""
    topics, numbers = [t for t, _ in partitions], [p for _, p in partitions]
    await conn.execute(
        "INSERT INTO projection_offsets (consumer, topic, partition, next_offset, updated_at) "
        "SELECT $1, t, p, 0, now() FROM unnest($2::text[], $3::int[]) AS u(t, p) "
        "ON CONFLICT (consumer, topic, partition) DO NOTHING", consumer, topics, numbers)
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = $1 "
        "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) "
        "ORDER BY topic, partition FOR UPDATE", consumer, topics, numbers)
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def store_positions(conn: asyncpg.Connection, consumer: str,
                          offsets: dict[TopicPartition, int]) -> None:
    await conn.executemany(
        "UPDATE projection_offsets SET next_offset = GREATEST(next_offset, $4), "
        "updated_at = now() WHERE consumer = $1 AND topic = $2 AND partition = $3",
        [(consumer, t, p, o) for (t, p), o in offsets.items()])


async def store_changes(conn: asyncpg.Connection, changes: Sequence[Change]) -> None:
    """News goes to the outbox; a `memory.extraction_requested` change is work for the claim
    extraction agent, queued in `extraction_requests` (the agent's position lives there)."""
    requests = [c for c in changes if c.type == MEMORY_EXTRACTION_REQUESTED]
    news = [c for c in changes if c.type != MEMORY_EXTRACTION_REQUESTED]
    await insert_rows(conn, "extraction_requests", EXTRACTION_COLUMNS, [
        (c.source_event_id, c.project_id, c.subject_id, c.payload["id"], c.payload["text"])
        for c in requests], "ON CONFLICT DO NOTHING")
    if not news:
        return
    trace = traceparent()  # the projector batch's span, None when traces are off
    await insert_rows(conn, "outbox", OUTBOX_COLUMNS, [
        (c.change_id, c.project_id, c.subject_id, c.type, c.payload, c.source_event_id,
         c.occurred_at, trace) for c in news], "ON CONFLICT (change_id) DO NOTHING")


async def store_outcomes(conn: asyncpg.Connection,
                         outcomes: Sequence[tuple[EventEnvelope, Outcome, str | None]],
                         notify: bool) -> None:
    """Outcomes with the scoped idempotency key they answer for (None for a replayed one)."""
    if not outcomes:
        return
    await insert_rows(conn, "command_outcomes", OUTCOME_COLUMNS, [
        (e.event_id, e.project_id, e.type, o.status, orjson.dumps(o.body).decode(), key,
         e.occurred_at, e.actor, e.subject_id) for e, o, key in outcomes],
        "ON CONFLICT DO NOTHING")
    if notify:
        await conn.executemany("SELECT pg_notify($1, $2)",
                               [(OUTCOME_CHANNEL, notice) for notice in
                                outcome_notices((e.event_id, o) for e, o, _ in outcomes)])


async def store_dead_letters(conn: asyncpg.Connection, letters: Iterable[DeadLetter]) -> None:
    """Parked in the same transaction as the position that passes them; the relay produces
    them to the DLQ topic (at least once, keyed by their origin)."""
    rows = [(d.record.topic, d.record.partition, d.record.offset, d.record.key, d.record.value,
             readable_reason(d.reason)) for d in letters]
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO dead_letter_outbox (origin_topic, origin_partition, origin_offset, "
        "record_key, record_value, reason) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (origin_topic, origin_partition, origin_offset) DO NOTHING", rows)


def readable_reason(reason: str) -> str:
    """A reason Postgres can store: no NUL characters, bounded length."""
    return reason.replace("\x00", "\\u0000")[:REASON_MAX]
