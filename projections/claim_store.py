"""SQL of the claims projection: `claims`, `claim_assertions`, `claim_edges`, `slot_state`.

Every timestamp written is the event's `occurred_at`; every id comes from the event or
from the fold itself, so replaying the log writes identical rows.

`edge_id` = partition · 2⁴¹ + n, where n counts the edges stored so far for the event's
project in its partition (`edge_counters`, in the projection schema, advanced in the
batch transaction by the same statement that inserts the edge). Ids are unique per
project, strictly below 2⁵³ (a safe JSON integer) for 4,096 partitions of 2⁴¹ edges each,
and a replay into a fresh schema — also one filtered to a single project — counts the same
edges in the same order, so it reproduces them. Any projector that writes claims gets its
allocator with `EdgeIds(tx)` and passes it to `claims_projector.write_claim`.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from projections.slot_decisions import Edge, SlotClaim, SlotState
from projections.unit_of_work import EventTx
from schemas.claim_events import ClaimAsserted

INSERT_CLAIM = """
INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, slot,
  claim_type, confidence, importance, tags, source_memory_id, source_observation_id,
  subject_entity, status, asserted_at, updated_at, retracted_at, retract_reason, embedding,
  valid_from, valid_until)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'active', $14, $14, NULL,
  NULL, $15, $16, $17)
"""
INSERT_ASSERTION = """
INSERT INTO claim_assertions (assertion_id, project_id, subject_id, claim_id, memory_id,
  predicate, object_type, value_string, confidence, status, first_seen_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $6, 'string', $7, $8, 'active', $9, $9)
"""
UPSERT_SLOT = """
INSERT INTO slot_state (project_id, subject_id, slot, active_claim_id, status,
  replaced_by_claim_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (project_id, subject_id, slot) DO UPDATE SET
  active_claim_id = EXCLUDED.active_claim_id, status = EXCLUDED.status,
  replaced_by_claim_id = EXCLUDED.replaced_by_claim_id, updated_at = EXCLUDED.updated_at
"""
# The counter only moves when the edge is really stored (not on a conflict), so the ids
# also follow from the stored rows alone (migration 0018 renumbers old edges this way).
INSERT_EDGE = """
WITH stored AS (
  INSERT INTO claim_edges (edge_id, project_id, subject_id, from_claim_id, to_claim_id,
    edge_type, weight, reason_code, reason_text, created_at)
  SELECT ($1::bigint << 41) + COALESCE((SELECT next_edge FROM edge_counters
      WHERE project_id = $2 AND partition = $1), 0),
    $2, $3, $4, $5, $6, $7, $8, $9, $10
  ON CONFLICT (project_id, from_claim_id, to_claim_id, edge_type) DO NOTHING
  RETURNING 1
)
INSERT INTO edge_counters (project_id, partition, next_edge)
SELECT $2, $1, 1 FROM stored
ON CONFLICT (project_id, partition) DO UPDATE SET next_edge = edge_counters.next_edge + 1
"""
NEWEST_OTHER_ACTIVE = """
SELECT claim_id, asserted_at FROM claims
WHERE project_id = $1 AND subject_id = $2 AND slot = $3 AND status = 'active'
  AND claim_id <> $4
ORDER BY asserted_at DESC, claim_id DESC LIMIT 1
"""
PARTITION_SHIFT = 41
MAX_PARTITIONS = 4096


class EdgeIds:
    """Where the edges of one event get their ids: its project's counter in its partition.

    Build it with `EdgeIds(tx)` for the event being applied; the ids themselves are taken
    in SQL (`INSERT_EDGE`), in the batch transaction, so a rolled-back event (savepoint)
    gives its numbers back and a replay takes the same ones.
    """

    def __init__(self, tx: EventTx) -> None:
        if not 0 <= tx.position.partition < MAX_PARTITIONS:
            raise ValueError(f"edge ids support {MAX_PARTITIONS} partitions, "
                             f"got partition {tx.position.partition}")
        self.partition = tx.position.partition
        self.project_id = tx.event.project_id


def edge_id(partition: int, n: int) -> int:
    """The id of the n-th edge (from 0) of a project in a partition."""
    return (partition << PARTITION_SHIFT) + n


async def insert_claim(tx: EventTx, subject_id: str, claim: ClaimAsserted,
                       claim_type: str) -> None:
    at, project = tx.event.occurred_at, tx.event.project_id
    await tx.conn.execute(
        INSERT_CLAIM, claim.claim_id, project, subject_id, claim.predicate,
        claim.object_value, claim.slot, claim_type, claim.confidence, claim.importance,
        claim.tags, claim.source_memory_id, claim.source_observation_id,
        claim.subject_entity, at, claim.embedding or None, claim.valid_from, claim.valid_until)
    await tx.conn.execute(
        INSERT_ASSERTION, claim.assertion_id, project, subject_id, claim.claim_id,
        claim.source_memory_id, claim.predicate, claim.object_value, claim.confidence, at)


async def load_slot(tx: EventTx, subject_id: str, slot: str) -> SlotState | None:
    row = await tx.conn.fetchrow(
        "SELECT active_claim_id, status, replaced_by_claim_id FROM slot_state "
        "WHERE project_id = $1 AND subject_id = $2 AND slot = $3 FOR UPDATE",
        tx.event.project_id, subject_id, slot)
    if row is None:
        return None
    return SlotState(row["active_claim_id"], row["status"], row["replaced_by_claim_id"])


async def newest_other_active(tx: EventTx, subject_id: str, slot: str,
                              claim_id: str) -> list[SlotClaim]:
    rows = await tx.conn.fetch(NEWEST_OTHER_ACTIVE, tx.event.project_id, subject_id, slot,
                               claim_id)
    return [SlotClaim(r["claim_id"], r["asserted_at"]) for r in rows]


async def store_slot(tx: EventTx, subject_id: str, slot: str, state: SlotState) -> None:
    await tx.conn.execute(UPSERT_SLOT, tx.event.project_id, subject_id, slot,
                          state.active_claim_id, state.status, state.replaced_by_claim_id,
                          tx.event.occurred_at)


async def store_edges(tx: EventTx, subject_id: str, edges: tuple[Edge, ...],
                      ids: EdgeIds) -> None:
    for edge in edges:
        await tx.conn.execute(
            INSERT_EDGE, ids.partition, ids.project_id, subject_id, edge.from_claim_id,
            edge.to_claim_id, edge.edge_type, edge.weight, edge.reason_code, edge.reason_text,
            tx.event.occurred_at)


async def mark_retracted(tx: EventTx, claim_id: str, reason: str) -> None:
    at: datetime = tx.event.occurred_at
    await tx.conn.execute(
        "UPDATE claims SET status = 'retracted', retracted_at = $2, retract_reason = $3, "
        "updated_at = $2 WHERE claim_id = $1 AND project_id = $4", claim_id, at, reason,
        tx.event.project_id)


async def load_claim(tx: EventTx, claim_id: str) -> asyncpg.Record | None:
    return await tx.conn.fetchrow(
        "SELECT claim_id, subject_id, slot, status FROM claims "
        "WHERE claim_id = $1 AND project_id = $2 FOR UPDATE", claim_id, tx.event.project_id)


async def claim_exists(tx: EventTx, claim_id: str) -> bool:
    return bool(await tx.conn.fetchval(
        "SELECT 1 FROM claims WHERE claim_id = $1 AND project_id = $2", claim_id,
        tx.event.project_id))


async def memory_in_project(tx: EventTx, memory_id: str) -> bool:
    return bool(await tx.conn.fetchval(
        "SELECT 1 FROM memories WHERE id = $1 AND project_id = $2", memory_id,
        tx.event.project_id))
