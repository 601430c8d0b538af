"""POST /api/v1/memories: validate, embed, produce `memory.submitted`, answer the outcome."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from commands.claim_extraction import ClaimDecider
from commands.context import CommandContext
from commands.drafts import Draft
from commands.id_reservations import reserve_id
from commands.memory_validation import client_id, memory_fields, required_text
from kernel.http import InvalidBody, error, json_response
from kernel.ids import memory_id
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.memory_events import MEMORY_SUBMITTED, MemorySubmitted


async def memory_draft(pool: asyncpg.Pool, project_id: str, body: dict[str, Any], *,
                       decide: ClaimDecider | None = None) -> Draft:
    """A create body → its `memory.submitted` draft; raises Invalid with the route's error.
    `decide` settles the memory's claims now when the extraction engine allows it (see
    `commands.claim_extraction.decided_at_write`)."""
    subject_id, text = required_text(body)
    chosen = client_id(body)
    fields = memory_fields(body)
    if chosen and not await reserve_id(pool, project_id, "memory", chosen, subject_id):
        raise Invalid(409, {"error": "memory_id_conflict", "id": chosen})
    new_id = chosen or memory_id()
    claims = None
    if decide is not None and fields["extract_claims"] and not fields["no_supersede"]:
        claims = await decide(new_id, text)

    def payload(embedding: list[float]) -> dict[str, Any]:
        return MemorySubmitted(id=new_id, text=text, embedding=embedding, claims=claims,
                               **fields).model_dump(mode="json")

    return Draft(MEMORY_SUBMITTED, subject_id, text, payload)


def create_memory(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            draft = await memory_draft(ctx.pool, call.project_id,
                                       checked_body(await call.request.body()),
                                       decide=ctx.decide_claims)
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        payload = draft.payload(await ctx.embed(draft.embed_text or ""))
        event = ctx.envelope(call, MEMORY_SUBMITTED, draft.subject_id, payload)
        return await ctx.submit(call, event)

    return handler
