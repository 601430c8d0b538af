"""The command types of the Kafka intake and their drafters: the HTTP routes' validation,
with the id a route takes from its path read from the command's body (`id` of a memory,
`claim_id` of a claim)."""

from __future__ import annotations

from typing import Any

import asyncpg

from commands.assert_claim import claim_draft
from commands.batch import Drafter
from commands.coercion import js_string
from commands.create_memory import memory_draft
from commands.drafts import Answer, Draft
from commands.memory_lookup import find_memory
from commands.patch_validation import patch_changes
from commands.retract_claim import claim_subject
from kernel.input_limits import Invalid, identifier, invalid
from schemas.claim_events import CLAIM_RETRACTED, DEFAULT_RETRACT_REASON, ClaimRetracted
from schemas.memory_events import MEMORY_DELETED, MEMORY_PATCHED, MemoryDeleted, MemoryPatched


def required_id(body: dict[str, Any], name: str) -> str:
    value = js_string(body[name]) if body.get(name) else ""
    if not value:
        raise invalid(f"{name}_required")
    return identifier(value, name)


async def patch_draft(pool: asyncpg.Pool, project_id: str, body: dict[str, Any]) -> Draft:
    memory = await find_memory(pool, project_id, required_id(body, "id"))
    if memory is None:
        raise Invalid(404, {"error": "memory_not_found"})
    try:
        changes = patch_changes({k: v for k, v in body.items() if k != "id"})
    except Invalid as bad:  # as PATCH: a deleted memory's 404 comes before field errors
        raise (Invalid(404, {"error": "memory_deleted"}) if memory.is_deleted else bad) from None
    text = changes.get("text")

    def payload(vector: list[float]) -> dict[str, Any]:
        if text is None:
            return MemoryPatched(id=memory.id, changes=changes).model_dump()
        return MemoryPatched(id=memory.id, changes=changes, embedding=vector or None,
                             clear_embedding=not vector).model_dump()

    return Draft(MEMORY_PATCHED, memory.subject_id, text, payload)


async def delete_draft(pool: asyncpg.Pool, project_id: str,
                       body: dict[str, Any]) -> Draft | Answer:
    memory = await find_memory(pool, project_id, required_id(body, "id"))
    if memory is None:
        return Answer(200, {"ok": True, "deleted": False})
    return Draft(MEMORY_DELETED, memory.subject_id, None,
                 lambda _v: MemoryDeleted(id=memory.id).model_dump())


async def retract_draft(pool: asyncpg.Pool, project_id: str, body: dict[str, Any]) -> Draft:
    claim_id = required_id(body, "claim_id")
    subject = await claim_subject(pool, project_id, claim_id)
    if subject is None:
        raise Invalid(404, {"error": "claim_not_found"})
    reason = js_string(body["reason"]) if body.get("reason") else DEFAULT_RETRACT_REASON
    return Draft(CLAIM_RETRACTED, subject, None,
                 lambda _v: ClaimRetracted(claim_id=claim_id, reason=reason).model_dump())


COMMANDS: dict[str, tuple[Drafter, str]] = {
    "memory.create": (memory_draft, "memories:write"),
    "memory.patch": (patch_draft, "memories:write"),
    "memory.delete": (delete_draft, "memories:write"),
    "claim.assert": (claim_draft, "claims:write"),
    "claim.retract": (retract_draft, "claims:write"),
}
"""Command type → its drafter and the scope its credential must hold."""
