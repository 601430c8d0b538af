"""POST /api/v1/claims: validate, embed `"<predicate>: <value>"`, produce `claim.asserted`."""

from __future__ import annotations

from starlette.responses import Response

from commands.claim_validation import claim_fields, required_claim
from commands.context import CommandContext
from commands.id_reservations import reserve_id
from kernel.http import InvalidBody, error, json_response
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.claim_events import CLAIM_ASSERTED, ClaimAsserted


def assert_claim(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = checked_body(await call.request.body())
            subject_id, predicate, value = required_claim(body)
            fields = claim_fields(body, predicate)
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        chosen = body.get("claim_id") and fields["claim_id"]
        if chosen and not await reserve_id(ctx.pool, call.project_id, "claim", chosen,
                                           subject_id):
            return json_response(409, {"error": "claim_id_conflict", "claim_id": chosen})
        embedding = await ctx.embed(f"{predicate}: {value}")
        payload = ClaimAsserted(predicate=predicate, object_value=value, embedding=embedding,
                                **fields)
        event = ctx.envelope(call, CLAIM_ASSERTED, subject_id, payload.model_dump(mode="json"))
        response: Response = await ctx.submit(call, event)
        return response

    return handler
