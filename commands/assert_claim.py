"""POST /api/v1/claims: validate, embed `"<predicate>: <value>"`, produce `claim.asserted`."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from commands.claim_validation import claim_fields, required_claim
from commands.context import CommandContext
from commands.drafts import Draft
from commands.id_reservations import reserve_id
from kernel.http import InvalidBody, error, json_response
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.claim_events import CLAIM_ASSERTED, ClaimAsserted


async def claim_draft(pool: asyncpg.Pool, project_id: str, body: dict[str, Any]) -> Draft:
    """A claim body → its `claim.asserted` draft; raises Invalid with the route's error."""
    subject_id, predicate, value = required_claim(body)
    fields = claim_fields(body, predicate)
    chosen = body.get("claim_id") and fields["claim_id"]
    if chosen and not await reserve_id(pool, project_id, "claim", chosen, subject_id):
        raise Invalid(409, {"error": "claim_id_conflict", "claim_id": chosen})

    def payload(embedding: list[float]) -> dict[str, Any]:
        return ClaimAsserted(predicate=predicate, object_value=value, embedding=embedding,
                             **fields).model_dump(mode="json")

    return Draft(CLAIM_ASSERTED, subject_id, f"{predicate}: {value}", payload)


def assert_claim(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            draft = await claim_draft(ctx.pool, call.project_id,
                                      checked_body(await call.request.body()))
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        payload = draft.payload(await ctx.embed(draft.embed_text or ""))
        event = ctx.envelope(call, CLAIM_ASSERTED, draft.subject_id, payload)
        response: Response = await ctx.submit(call, event)
        return response

    return handler
