"""Folds extraction events into memories and claims (spec §7.1, §7.4).

Ordering key: project + subject. Idempotency: the applier's offsets; `claims.extracted`
is also skipped when its claims already exist (a redelivered extraction request yields
the same derived claim ids) or when its memory is missing or deleted by now.
Learned memories get no duplicate guard, no supersession and no background extraction;
every claim goes through `write_claim`, the same path as `claim.asserted`.
"""

from __future__ import annotations

from typing import Any

from kernel.timefmt import iso_ms
from projections.claim_store import EdgeIds
from projections.claims_projector import write_claim
from projections.unit_of_work import EventTx, Handler
from schemas import changes
from schemas.extraction_events import (
    CLAIMS_EXTRACTED,
    MEMORIES_EXTRACTED,
    ClaimsExtracted,
    LearnedMemory,
    MemoriesExtracted,
)
from schemas.outcomes import Outcome

INSERT_MEMORY = """
INSERT INTO memories (id, project_id, subject_id, text, kind, visibility, importance,
  confidence, is_temporal, tags, metadata, embedding, status, superseded_by, is_deleted,
  source_type, created_at, updated_at, last_seen_at, seen_count, reinforcement_count,
  last_reinforced_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', NULL, false,
  'inferred', $13, $13, NULL, 0, 0, $13)
"""


async def _insert_memory(tx: EventTx, memory: LearnedMemory, metadata: dict[str, Any]) -> None:
    event = tx.event
    await tx.conn.execute(
        INSERT_MEMORY, memory.id, event.project_id, event.subject_id, memory.text, memory.kind,
        memory.visibility, memory.importance, memory.confidence, memory.is_temporal,
        memory.tags, metadata, memory.embedding or None, event.occurred_at)
    tx.emit(changes.MEMORY_CREATED, {
        "id": memory.id, "subject_id": event.subject_id, "text": memory.text,
        "kind": memory.kind, "visibility": memory.visibility, "importance": memory.importance,
        "tags": memory.tags, "created_at": iso_ms(event.occurred_at)})


async def memories_extracted(tx: EventTx) -> Outcome:
    event = MemoriesExtracted.model_validate(tx.event.payload)
    edge_ids = EdgeIds(tx)
    learned = []
    for memory in event.memories:
        await _insert_memory(tx, memory, event.metadata())
        for claim in memory.claims:
            await write_claim(tx, tx.event.subject_id, claim, edge_ids)
        learned.append({"memory_id": memory.id, "text": memory.text, "kind": memory.kind,
                        "claim_ids": [c.claim_id for c in memory.claims]})
    return Outcome(200, {
        "ok": True, "mode": event.engine, "learned": True,
        "extracted_count": len(event.memories), "learned_memory_count": len(learned),
        "learned_claim_count": sum(len(m.claims) for m in event.memories), "memories": learned})


async def _any_exists(tx: EventTx, claim_ids: list[str]) -> bool:
    return bool(await tx.conn.fetchval(
        "SELECT 1 FROM claims WHERE project_id = $1 AND claim_id = ANY($2::text[]) LIMIT 1",
        tx.event.project_id, claim_ids))


async def _already_extracted(tx: EventTx, event: ClaimsExtracted) -> bool:
    """Only the first extraction of a memory counts: a re-delivered request may make the
    (non-deterministic) extractor answer differently, and that must not add claims."""
    earlier = await tx.conn.fetchval(
        "SELECT 1 FROM subject_events WHERE project_id = $1 AND subject_id = $2 "
        "AND type = 'claims.extracted' AND payload->>'source_memory_id' = $3 LIMIT 1",
        tx.event.project_id, tx.event.subject_id, event.source_memory_id)
    return bool(earlier) or await _any_exists(tx, [c.claim_id for c in event.claims])


async def claims_extracted(tx: EventTx) -> None:
    event = ClaimsExtracted.model_validate(tx.event.payload)
    subject = await tx.conn.fetchval(
        "SELECT subject_id FROM memories WHERE id = $1 AND project_id = $2 AND NOT is_deleted",
        event.source_memory_id, tx.event.project_id)
    if subject is None or await _already_extracted(tx, event):
        return None
    edge_ids = EdgeIds(tx)
    for claim in event.claims:
        await write_claim(tx, subject, claim, edge_ids)
    return None


HANDLERS: dict[str, Handler] = {
    MEMORIES_EXTRACTED: memories_extracted,
    CLAIMS_EXTRACTED: claims_extracted,
}
