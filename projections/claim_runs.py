"""The claims a run of `memory.submitted` events carries, written set-wise.

Same rows, changes and edge ids as `claims_projector.write_claim` called once per claim in
log order (which the guarded, one-event-at-a-time path still does): every claim and
assertion is inserted first (a claim's slot decision reads only `slot_state`), the run's
slots are loaded and locked once, the pure `decide_assert` folds them in log order, and
each slot's final state, the new edges and the edge counters are stored in one statement
each. A run of n claims costs at most seven statements instead of five or more per claim.

Edge ids follow the same rule as `INSERT_EDGE`: an edge already stored (or repeated within
the run) takes no number; the others take their project's next number in their partition,
in log order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from pgvector import Vector

from projections.batch_writes import insert_rows, json_list
from projections.claim_store import EdgeIds, edge_id
from projections.claims_projector import asserted_change, emit_slot
from projections.slot_decisions import Edge, SlotState, claim_type_for, decide_assert
from projections.unit_of_work import EventTx
from schemas import changes
from schemas.claim_events import ClaimAsserted

CLAIM_COLUMNS = (("claim_id", "text"), ("project_id", "text"), ("subject_id", "text"),
                 ("predicate", "text"), ("object_value", "text"), ("slot", "text"),
                 ("claim_type", "text"), ("confidence", "float8"), ("importance", "float8"),
                 ("tags", "text"), ("source_memory_id", "text"),
                 ("source_observation_id", "text"), ("subject_entity", "text"),
                 ("asserted_at", "timestamptz"), ("embedding", "vector"),
                 ("valid_from", "timestamptz"), ("valid_until", "timestamptz"))
INSERT_CLAIMS = """
INSERT INTO claims (claim_id, project_id, subject_id, predicate, object_value, slot,
  claim_type, confidence, importance, tags, source_memory_id, source_observation_id,
  subject_entity, status, asserted_at, updated_at, retracted_at, retract_reason, embedding,
  valid_from, valid_until)
SELECT claim_id, project_id, subject_id, predicate, object_value, slot, claim_type,
  confidence, importance, ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)), source_memory_id,
  source_observation_id, subject_entity, 'active', asserted_at, asserted_at, NULL, NULL,
  embedding, valid_from, valid_until
FROM unnest({arrays}) WITH ORDINALITY AS u({names}, ord)
ORDER BY ord
"""
ASSERTION_COLUMNS = (("assertion_id", "text"), ("project_id", "text"), ("subject_id", "text"),
                     ("claim_id", "text"), ("memory_id", "text"), ("predicate", "text"),
                     ("object_type", "text"), ("value_string", "text"),
                     ("confidence", "float8"), ("status", "text"),
                     ("first_seen_at", "timestamptz"), ("last_seen_at", "timestamptz"))
LOAD_SLOTS = """
SELECT s.project_id, s.subject_id, s.slot, s.active_claim_id, s.status,
  s.replaced_by_claim_id
FROM slot_state s
JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(project_id, subject_id, slot)
  USING (project_id, subject_id, slot)
ORDER BY s.project_id, s.subject_id, s.slot
FOR UPDATE OF s
"""
UPSERT_SLOTS = """
INSERT INTO slot_state (project_id, subject_id, slot, active_claim_id, status,
  replaced_by_claim_id, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
  $7::timestamptz[])
ON CONFLICT (project_id, subject_id, slot) DO UPDATE SET
  active_claim_id = EXCLUDED.active_claim_id, status = EXCLUDED.status,
  replaced_by_claim_id = EXCLUDED.replaced_by_claim_id, updated_at = EXCLUDED.updated_at
"""
STORED_EDGES = """
SELECT e.project_id, e.from_claim_id, e.to_claim_id, e.edge_type FROM claim_edges e
JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[])
  AS k(project_id, from_claim_id, to_claim_id, edge_type)
  USING (project_id, from_claim_id, to_claim_id, edge_type)
"""
EDGE_COUNTERS = """
SELECT c.project_id, c.partition, c.next_edge FROM edge_counters c
JOIN unnest($1::text[], $2::int[]) AS k(project_id, partition) USING (project_id, partition)
ORDER BY c.project_id, c.partition
FOR UPDATE OF c
"""
EDGE_COLUMNS = (("edge_id", "bigint"), ("project_id", "text"), ("subject_id", "text"),
                ("from_claim_id", "text"), ("to_claim_id", "text"), ("edge_type", "text"),
                ("weight", "float8"), ("reason_code", "text"), ("reason_text", "text"),
                ("created_at", "timestamptz"))
STORE_COUNTERS = """
INSERT INTO edge_counters (project_id, partition, next_edge)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
ON CONFLICT (project_id, partition) DO UPDATE SET next_edge = EXCLUDED.next_edge
"""
SlotKey = tuple[str, str, str]
EdgeKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class RunClaim:
    tx: EventTx
    claim: ClaimAsserted
    claim_type: str

    @property
    def slot_key(self) -> SlotKey:
        return (self.tx.event.project_id, self.tx.event.subject_id, self.claim.slot)


async def write_claims_of_run(created: Sequence[tuple[EventTx, Sequence[ClaimAsserted]]]) -> None:
    """`created`: each created memory's event and the claims it carries, in log order."""
    run = [RunClaim(tx, claim, claim_type_for(claim.claim_type, claim.predicate))
           for tx, claims in created for claim in claims]
    if not run:
        return
    conn = run[0].tx.conn
    await _insert_claims(conn, run)
    slots = await _load_slots(conn, {c.slot_key for c in run})
    final: dict[SlotKey, tuple[SlotState, datetime]] = {}
    edges: list[tuple[EventTx, Edge]] = []
    for item in run:
        tx, claim, key = item.tx, item.claim, item.slot_key
        decision = decide_assert(slots.get(key), claim.claim_id)
        slots[key] = decision.slot
        final[key] = (decision.slot, tx.event.occurred_at)
        edges += [(tx, edge) for edge in decision.edges]
        superseded = decision.edges[0].to_claim_id if decision.edges else None
        subject = tx.event.subject_id
        tx.emit(changes.CLAIM_ASSERTED,
                asserted_change(tx, subject, claim, item.claim_type, superseded),
                subject_id=subject)
        emit_slot(tx, subject, claim.slot, decision.slot)
    await _store_slots(conn, final)
    await _store_edges(conn, edges)


async def _insert_claims(conn: asyncpg.Connection, run: list[RunClaim]) -> None:
    names = ", ".join(name for name, _ in CLAIM_COLUMNS)
    arrays = ", ".join(f"${n}::{kind}[]" for n, (_, kind) in enumerate(CLAIM_COLUMNS, 1))
    rows = [(c.claim.claim_id, c.tx.event.project_id, c.tx.event.subject_id, c.claim.predicate,
             c.claim.object_value, c.claim.slot, c.claim_type, c.claim.confidence,
             c.claim.importance, json_list(c.claim.tags), c.claim.source_memory_id,
             c.claim.source_observation_id, c.claim.subject_entity, c.tx.event.occurred_at,
             Vector(c.claim.embedding) if c.claim.embedding else None, c.claim.valid_from,
             c.claim.valid_until)
            for c in run]
    await conn.execute(INSERT_CLAIMS.format(arrays=arrays, names=names),
                       *[list(column) for column in zip(*rows, strict=True)])
    await insert_rows(conn, "claim_assertions", ASSERTION_COLUMNS, [
        (c.claim.assertion_id, c.tx.event.project_id, c.tx.event.subject_id, c.claim.claim_id,
         c.claim.source_memory_id, c.claim.predicate, "string", c.claim.object_value,
         c.claim.confidence, "active", c.tx.event.occurred_at, c.tx.event.occurred_at)
        for c in run])


async def _load_slots(conn: asyncpg.Connection, keys: set[SlotKey]) -> dict[SlotKey, SlotState]:
    ordered = sorted(keys)
    rows = await conn.fetch(LOAD_SLOTS, *[list(column) for column in zip(*ordered, strict=True)])
    return {(r["project_id"], r["subject_id"], r["slot"]):
            SlotState(r["active_claim_id"], r["status"], r["replaced_by_claim_id"])
            for r in rows}


async def _store_slots(conn: asyncpg.Connection,
                       final: dict[SlotKey, tuple[SlotState, datetime]]) -> None:
    rows = [(*key, state.active_claim_id, state.status, state.replaced_by_claim_id, at)
            for key, (state, at) in sorted(final.items())]
    await conn.execute(UPSERT_SLOTS, *[list(column) for column in zip(*rows, strict=True)])


async def _store_edges(conn: asyncpg.Connection, edges: list[tuple[EventTx, Edge]]) -> None:
    if not edges:
        return
    keys = [_edge_key(tx, edge) for tx, edge in edges]
    stored = {tuple(r) for r in await conn.fetch(
        STORED_EDGES, *[list(column) for column in zip(*keys, strict=True)])}
    fresh: list[tuple[EventTx, Edge]] = []
    for (tx, edge), key in zip(edges, keys, strict=True):
        if key not in stored:
            stored.add(key)
            fresh.append((tx, edge))
    if not fresh:
        return
    counters_of = sorted({(tx.event.project_id, EdgeIds(tx).partition) for tx, _ in fresh})
    rows = await conn.fetch(EDGE_COUNTERS, [p for p, _ in counters_of], [n for _, n in counters_of])
    counters = {(r["project_id"], r["partition"]): r["next_edge"] for r in rows}
    stored_rows = []
    for tx, edge in fresh:
        ids = EdgeIds(tx)
        n = counters.get((ids.project_id, ids.partition), 0)
        counters[(ids.project_id, ids.partition)] = n + 1
        stored_rows.append((edge_id(ids.partition, n), ids.project_id, tx.event.subject_id,
                            edge.from_claim_id, edge.to_claim_id, edge.edge_type, edge.weight,
                            edge.reason_code, edge.reason_text, tx.event.occurred_at))
    await insert_rows(conn, "claim_edges", EDGE_COLUMNS, stored_rows)
    moved = sorted(k for k in counters if k in set(counters_of))
    await conn.execute(STORE_COUNTERS, [p for p, _ in moved], [n for _, n in moved],
                       [counters[k] for k in moved])


def _edge_key(tx: EventTx, edge: Edge) -> EdgeKey:
    return (tx.event.project_id, edge.from_claim_id, edge.to_claim_id, edge.edge_type)
