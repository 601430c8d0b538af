"""Folds memory command events into `memories` and decides each command's answer.

Ordering key: project + subject. Idempotency: offsets (see `projections.applier`).
Everything written comes from the event: ids, text, the embedding, and `occurred_at`
for every timestamp, so a replay writes the same rows.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from kernel.timefmt import iso_ms
from projections.claim_store import EdgeIds
from projections.claims_projector import write_claim
from projections.memory_decisions import (
    MAX_SUPERSEDED,
    SUPERSEDE_FROM,
    Similar,
    decide_submission,
)
from projections.unit_of_work import EventTx, Handler
from schemas import changes
from schemas.memory_events import (
    MEMORY_DELETED,
    MEMORY_PATCHED,
    MEMORY_RESTORED,
    MEMORY_SUBMITTED,
    MemoryDeleted,
    MemoryPatched,
    MemoryRestored,
    MemorySubmitted,
)
from schemas.outcomes import Outcome

SIMILAR_SQL = f"""
SELECT id, (1 - (embedding <=> $3)) * 100 AS similarity FROM memories
WHERE project_id = $1 AND subject_id = $2 AND status = 'active' AND NOT is_deleted
  AND embedding IS NOT NULL AND (1 - (embedding <=> $3)) * 100 >= {SUPERSEDE_FROM:g}
ORDER BY embedding <=> $3, id LIMIT {MAX_SUPERSEDED + 1}
"""
"""Candidates for §5.2's decision: the closest first, one more than can be superseded."""
PRECHECK_SQL = """
SELECT EXISTS (SELECT 1 FROM memories WHERE project_id = $1 AND id = $4) AS taken, EXISTS (
  SELECT 1 FROM memories WHERE project_id = $1 AND subject_id = $2 AND status = 'active'
  AND NOT is_deleted AND md5(lower(regexp_replace(btrim(text), '\\s+', ' ', 'g')))
    = md5(lower(regexp_replace(btrim($3::text), '\\s+', ' ', 'g')))) AS exact_repost
"""
"""One round trip: is the id taken, and is the text an exact re-post in the subject."""
INSERT_SQL = """
INSERT INTO memories (id, project_id, subject_id, text, kind, visibility, importance,
  confidence, is_temporal, tags, metadata, embedding, status, superseded_by, is_deleted,
  source_type, created_at, updated_at, last_seen_at, seen_count, reinforcement_count,
  last_reinforced_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', NULL, false, $13,
  $14, $14, NULL, 0, 0, $14)
"""
SUPERSEDE_SQL = """
UPDATE memories SET status = 'superseded', superseded_by = $1, updated_at = $2
WHERE id = ANY($3::text[]) AND project_id = $4 AND status = 'active' AND NOT is_deleted
"""
PATCH_SQL = """
UPDATE memories SET text = $2, kind = $3, visibility = $4, importance = $5, confidence = $6,
  is_temporal = $7, tags = $8, metadata = $9, updated_at = $12,
  embedding = CASE WHEN $10::vector IS NOT NULL THEN $10::vector
                   WHEN $11::boolean THEN NULL ELSE embedding END
WHERE id = $1 AND project_id = $13
"""
PATCHABLE = ("text", "kind", "visibility", "importance", "confidence", "is_temporal", "tags",
             "metadata")


async def _load(tx: EventTx, memory_id: str) -> asyncpg.Record | None:
    return await tx.conn.fetchrow(
        "SELECT * FROM memories WHERE id = $1 AND project_id = $2 FOR UPDATE",
        memory_id, tx.event.project_id)


async def _similar(tx: EventTx, embedding: list[float]) -> list[Similar]:
    if not embedding:
        return []
    rows = await tx.conn.fetch(SIMILAR_SQL, tx.event.project_id, tx.event.subject_id, embedding)
    return [Similar(r["id"], float(r["similarity"])) for r in rows]


async def submit(tx: EventTx) -> Outcome:
    memory = tx.payload_as(MemorySubmitted)
    event = tx.event
    check = await tx.conn.fetchrow(PRECHECK_SQL, event.project_id, event.subject_id,
                                   memory.text, memory.id)
    if check["taken"]:
        return conflict_outcome(memory)
    decision = decide_submission(await _similar(tx, memory.embedding),
                                 exact_repost=check["exact_repost"],
                                 no_supersede=memory.no_supersede)
    if decision.duplicate:
        return duplicate_outcome(tx, memory)
    await tx.conn.execute(INSERT_SQL, *insert_args(tx, memory))
    superseded = list(decision.supersede_ids)
    if superseded:
        await tx.conn.execute(SUPERSEDE_SQL, memory.id, event.occurred_at, superseded,
                              event.project_id)
    emit_created(tx, memory, superseded)
    await write_decided_claims(tx, memory)
    return created_outcome(tx, memory, superseded)


async def write_decided_claims(tx: EventTx, memory: MemorySubmitted) -> None:
    """The claims decided at write time, in the memory's own transaction (v2 events)."""
    if memory.claims:
        edge_ids = EdgeIds(tx)
        for claim in memory.claims:
            await write_claim(tx, tx.event.subject_id, claim, edge_ids)


def insert_args(tx: EventTx, memory: MemorySubmitted) -> tuple[Any, ...]:
    event = tx.event
    return (memory.id, event.project_id, event.subject_id, memory.text, memory.kind,
            memory.visibility, memory.importance, memory.confidence, memory.is_temporal,
            memory.tags, memory.metadata, memory.embedding or None, memory.source_type,
            event.occurred_at)


def conflict_outcome(memory: MemorySubmitted) -> Outcome:
    return Outcome(409, {"error": "memory_id_conflict", "id": memory.id})


def duplicate_outcome(tx: EventTx, memory: MemorySubmitted) -> Outcome:
    return Outcome(200, {"id": None, "subject_id": tx.event.subject_id, "text": memory.text,
                         "kind": memory.kind, "created": False, "skipped": True,
                         "reason": "duplicate"})


def created_outcome(tx: EventTx, memory: MemorySubmitted, superseded: list[str]) -> Outcome:
    return Outcome(201, {"id": memory.id, "subject_id": tx.event.subject_id, "text": memory.text,
                         "kind": memory.kind, "created": True,
                         "superseded_count": len(superseded), "superseded_ids": superseded})


def emit_created(tx: EventTx, memory: MemorySubmitted, superseded: list[str]) -> None:
    tx.emit(changes.MEMORY_CREATED, {
        "id": memory.id, "subject_id": tx.event.subject_id, "text": memory.text,
        "kind": memory.kind, "visibility": memory.visibility, "importance": memory.importance,
        "tags": memory.tags, "created_at": _iso(tx)})
    for old_id in superseded:
        tx.emit(changes.MEMORY_SUPERSEDED, {"id": old_id, "superseded_by": memory.id})
    if memory.claims is None and memory.extract_claims and not memory.no_supersede:
        tx.emit(changes.MEMORY_EXTRACTION_REQUESTED, {"id": memory.id, "text": memory.text})


def _iso(tx: EventTx) -> str:
    return iso_ms(tx.event.occurred_at) or ""


def _missing(row: asyncpg.Record | None) -> Outcome:
    if row is None:
        return Outcome(404, {"error": "memory_not_found"})
    return Outcome(404, {"error": "memory_deleted"})


async def patch(tx: EventTx) -> Outcome:
    """Merge the coerced changes; a changed text gets its new vector or loses the stale one."""
    command = MemoryPatched.model_validate(tx.event.payload)
    row = await _load(tx, command.id)
    if row is None or row["is_deleted"]:
        return _missing(row)
    values: dict[str, Any] = {k: command.changes.get(k, row[k]) for k in PATCHABLE}
    clear = command.clear_embedding and values["text"] != row["text"]
    await tx.conn.execute(PATCH_SQL, command.id, *values.values(), command.embedding or None,
                          clear, tx.event.occurred_at, tx.event.project_id)
    tx.emit(changes.MEMORY_UPDATED, {"id": command.id, "subject_id": row["subject_id"]},
            subject_id=row["subject_id"])
    return Outcome(200, {"id": command.id, "updated": True})


async def delete(tx: EventTx) -> Outcome:
    command = MemoryDeleted.model_validate(tx.event.payload)
    subject = await tx.conn.fetchval(
        "UPDATE memories SET is_deleted = true, updated_at = $3 WHERE id = $1 "
        "AND project_id = $2 AND NOT is_deleted RETURNING subject_id",
        command.id, tx.event.project_id, tx.event.occurred_at)
    if subject is not None:
        tx.emit(changes.MEMORY_DELETED, {"id": command.id}, subject_id=subject)
    return Outcome(200, {"ok": True, "deleted": subject is not None})


async def restore(tx: EventTx) -> Outcome:
    command = MemoryRestored.model_validate(tx.event.payload)
    row = await _load(tx, command.id)
    if row is None:
        return Outcome(404, {"error": "memory_not_found"})
    if row["is_deleted"]:
        return Outcome(400, {"error": "memory_deleted",
                             "message": "Cannot restore a deleted memory"})
    if row["status"] == "active":
        return Outcome(200, {"ok": True, "restored": False,
                             "message": "Memory is already active"})
    await tx.conn.execute(
        "UPDATE memories SET status = 'active', superseded_by = NULL, updated_at = $3 "
        "WHERE id = $1 AND project_id = $2", command.id, tx.event.project_id,
        tx.event.occurred_at)
    tx.emit(changes.MEMORY_UPDATED, {"id": command.id, "status": "active"},
            subject_id=row["subject_id"])
    return Outcome(200, {"ok": True, "restored": True, "id": command.id,
                         "subject_id": row["subject_id"], "text": row["text"]})


HANDLERS: dict[str, Handler] = {
    MEMORY_SUBMITTED: submit,
    MEMORY_PATCHED: patch,
    MEMORY_DELETED: delete,
    MEMORY_RESTORED: restore,
}
