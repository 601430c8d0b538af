"""Folds `claim.asserted` / `claim.retracted` into the claims tables (spec §8.1–8.2, §15).

Ordering key: project + subject — every event about a subject's claims and slots sits in
one partition, in order, so slot winners are decided in log order.
Idempotency: the applier's offsets (an event below the stored offset is skipped); within
an event, ids come from the payload and `edge_id`s from a per-partition counter (`EdgeIds`), and
every timestamp is `occurred_at`, so a replay into a fresh schema writes identical rows.
`write_claim` is the one path that creates a claim; the extraction projector uses it too.
"""

from __future__ import annotations

from typing import Any

from kernel.timefmt import iso_ms
from projections.claim_store import (
    EdgeIds,
    claim_exists,
    insert_claim,
    load_claim,
    load_slot,
    mark_retracted,
    memory_in_project,
    newest_other_active,
    store_edges,
    store_slot,
)
from projections.slot_decisions import SlotState, claim_type_for, decide_assert, decide_retract
from projections.unit_of_work import EventTx, Handler
from schemas import changes
from schemas.claim_events import CLAIM_ASSERTED, CLAIM_RETRACTED, ClaimAsserted, ClaimRetracted
from schemas.outcomes import Outcome


async def write_claim(tx: EventTx, subject_id: str, claim: ClaimAsserted, ids: EdgeIds) -> str:
    """Insert the claim and its assertion, make it its slot's winner; returns its type."""
    claim_type = claim_type_for(claim.claim_type, claim.predicate)
    await insert_claim(tx, subject_id, claim, claim_type)
    decision = decide_assert(await load_slot(tx, subject_id, claim.slot), claim.claim_id)
    await store_slot(tx, subject_id, claim.slot, decision.slot)
    await store_edges(tx, subject_id, decision.edges, ids)
    superseded = decision.edges[0].to_claim_id if decision.edges else None
    tx.emit(changes.CLAIM_ASSERTED, asserted_change(tx, subject_id, claim, claim_type, superseded),
            subject_id=subject_id)
    emit_slot(tx, subject_id, claim.slot, decision.slot)
    return claim_type


def asserted_change(tx: EventTx, subject_id: str, claim: ClaimAsserted, claim_type: str,
                     superseded: str | None) -> dict[str, Any]:
    return {"claim_id": claim.claim_id, "subject_id": subject_id,
            "predicate": claim.predicate, "object_value": claim.object_value,
            "slot": claim.slot, "claim_type": claim_type, "confidence": claim.confidence,
            "source_memory_id": claim.source_memory_id, "supersedes": superseded,
            "asserted_at": iso_ms(tx.event.occurred_at)}


def emit_slot(tx: EventTx, subject_id: str, slot: str, state: SlotState) -> None:
    tx.emit(changes.SLOT_CHANGED, {
        "subject_id": subject_id, "slot": slot, "active_claim_id": state.active_claim_id,
        "status": state.status, "replaced_by_claim_id": state.replaced_by_claim_id,
        "updated_at": iso_ms(tx.event.occurred_at)}, subject_id=subject_id)


async def asserted(tx: EventTx) -> Outcome:
    claim = ClaimAsserted.model_validate(tx.event.payload)
    if await claim_exists(tx, claim.claim_id):
        return Outcome(409, {"error": "claim_id_conflict", "claim_id": claim.claim_id})
    if claim.source_memory_id and not await memory_in_project(tx, claim.source_memory_id):
        return Outcome(400, {"error": "invalid_source_memory_id",
                             "source_memory_id": claim.source_memory_id,
                             "message": "source_memory_id names no memory of this project"})
    claim_type = await write_claim(tx, tx.event.subject_id, claim, EdgeIds(tx))
    return Outcome(201, {
        "claim_id": claim.claim_id, "subject_id": tx.event.subject_id,
        "predicate": claim.predicate, "object_value": claim.object_value, "slot": claim.slot,
        "claim_type": claim_type, "confidence": claim.confidence,
        "observation_id": claim.source_observation_id, "linking_triggered": True})


async def retracted(tx: EventTx) -> Outcome:
    command = ClaimRetracted.model_validate(tx.event.payload)
    row = await load_claim(tx, command.claim_id)
    if row is None:
        return Outcome(404, {"error": "claim_not_found"})
    subject, slot = row["subject_id"], row["slot"]
    current = await load_slot(tx, subject, slot)
    others = []
    if current is not None and current.winner() == command.claim_id:
        others = await newest_other_active(tx, subject, slot, command.claim_id)
    decision = decide_retract(current, command.claim_id, others, command.reason)
    await mark_retracted(tx, command.claim_id, command.reason)
    if decision.slot is not None:
        await store_slot(tx, subject, slot, decision.slot)
        await store_edges(tx, subject, decision.edges, EdgeIds(tx))
    body = {"success": True, "claim_id": command.claim_id, "slot": slot,
            "previous_claim_id": decision.restored_claim_id,
            "restored_previous": decision.restored_previous, "reason": command.reason}
    tx.emit(changes.CLAIM_RETRACTED, {**body, "subject_id": subject,
                                "retracted_at": iso_ms(tx.event.occurred_at)},
            subject_id=subject)
    if decision.slot is not None:
        emit_slot(tx, subject, slot, decision.slot)
    return Outcome(200, body)


HANDLERS: dict[str, Handler] = {
    CLAIM_ASSERTED: asserted,
    CLAIM_RETRACTED: retracted,
}
