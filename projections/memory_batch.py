"""`memory.submitted` without an embedding, applied as a run (see `projections.runs`).

Same decisions as `memory_projector.submit`, in log order: an id already stored in the
project (or stored earlier in the run) is a 409; an exact re-post of an active memory of
the subject (or of one created earlier in the run) is a duplicate; anything else is
inserted. Without an embedding there is nothing to compare by similarity, so nothing is
superseded. One query checks every event of the run, Postgres computing the same
normalized-text key as the index; the inserts go in one `INSERT … SELECT FROM unnest`; then the
claims each created memory carries are written set-wise (`projections.claim_runs`).
"""

from __future__ import annotations

from projections.batch_writes import json_list
from projections.claim_runs import write_claims_of_run
from projections.memory_projector import (
    conflict_outcome,
    created_outcome,
    duplicate_outcome,
    emit_created,
)
from projections.runs import Batcher
from projections.unit_of_work import EventTx
from schemas.envelope import EventEnvelope
from schemas.memory_events import MEMORY_SUBMITTED, MemorySubmitted
from schemas.outcomes import Outcome

NORMALIZED = "md5(lower(regexp_replace(btrim({}), '\\s+', ' ', 'g')))"
RUN_CHECK_SQL = f"""
SELECT i.ord, EXISTS (SELECT 1 FROM memories m WHERE m.project_id = i.project_id
    AND m.id = i.id) AS taken,
  {NORMALIZED.format('i.text')} AS text_key,
  EXISTS (SELECT 1 FROM memories m WHERE m.project_id = i.project_id
    AND m.subject_id = i.subject_id AND m.status = 'active' AND NOT m.is_deleted
    AND {NORMALIZED.format('m.text')} = {NORMALIZED.format('i.text')}) AS exact_repost
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
  WITH ORDINALITY AS i(id, project_id, subject_id, text, ord)
ORDER BY i.ord
"""


RUN_INSERT_SQL = """
INSERT INTO memories (id, project_id, subject_id, text, kind, visibility, importance,
  confidence, is_temporal, tags, metadata, embedding, status, superseded_by, is_deleted,
  source_type, created_at, updated_at, last_seen_at, seen_count, reinforcement_count,
  last_reinforced_at)
SELECT id, project_id, subject_id, text, kind, visibility, importance, confidence,
  is_temporal, ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), metadata, NULL, 'active', NULL,
  false, source_type, at, at, NULL, 0, 0, at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::int[], $8::float8[], $9::bool[], $10::text[], $11::jsonb[], $12::text[],
  $13::timestamptz[]) WITH ORDINALITY AS u(id, project_id, subject_id, text, kind, visibility,
  importance, confidence, is_temporal, tags, metadata, source_type, at, ord)
ORDER BY ord
"""
"""The run's memories in one statement (tags travel as JSON text: unnest flattens arrays)."""


def run_insert_row(tx: EventTx, memory: MemorySubmitted) -> tuple[object, ...]:
    event = tx.event
    return (memory.id, event.project_id, event.subject_id, memory.text, memory.kind,
            memory.visibility, memory.importance, memory.confidence, memory.is_temporal,
            json_list(memory.tags), memory.metadata, memory.source_type, event.occurred_at)


def without_embedding(event: EventEnvelope) -> bool:
    return not event.payload.get("embedding")


async def submit_run(txs: list[EventTx]) -> list[Outcome]:
    memories = [tx.payload_as(MemorySubmitted) for tx in txs]
    checks = await txs[0].conn.fetch(
        RUN_CHECK_SQL, [m.id for m in memories], [tx.event.project_id for tx in txs],
        [tx.event.subject_id for tx in txs], [m.text for m in memories])
    taken: set[tuple[str, str]] = set()
    keys: set[tuple[str, str, str]] = set()
    rows, outcomes = [], []
    created: list[tuple[EventTx, MemorySubmitted]] = []
    for tx, memory, check in zip(txs, memories, checks, strict=True):
        key = (tx.event.project_id, tx.event.subject_id, check["text_key"])
        if check["taken"] or (tx.event.project_id, memory.id) in taken:
            outcomes.append(conflict_outcome(memory))
        elif check["exact_repost"] or key in keys:
            outcomes.append(duplicate_outcome(tx, memory))
        else:
            taken.add((tx.event.project_id, memory.id))
            keys.add(key)
            rows.append(run_insert_row(tx, memory))
            created.append((tx, memory))
            emit_created(tx, memory, [])
            outcomes.append(created_outcome(tx, memory, []))
    if rows:
        await txs[0].conn.execute(RUN_INSERT_SQL, *[list(c) for c in zip(*rows, strict=True)])
    await write_claims_of_run([(tx, memory.claims or []) for tx, memory in created])
    return outcomes


BATCHERS = {MEMORY_SUBMITTED: Batcher(without_embedding, submit_run)}
