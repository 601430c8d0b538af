"""POST /api/v1/memories: validate, embed, produce `memory.submitted`, answer the outcome."""

from __future__ import annotations

from starlette.responses import Response

from commands.claim_extraction import decided_at_write
from commands.context import CommandContext
from commands.id_reservations import reserve_id
from commands.memory_validation import client_id, memory_fields, required_text
from kernel.http import InvalidBody, error, json_response
from kernel.ids import memory_id
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.memory_events import MEMORY_SUBMITTED, MemorySubmitted


def create_memory(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = checked_body(await call.request.body())
            subject_id, text = required_text(body)
            chosen = client_id(body)
            fields = memory_fields(body)
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        if chosen and not await reserve_id(ctx.pool, call.project_id, "memory", chosen,
                                           subject_id):
            return json_response(409, {"error": "memory_id_conflict", "id": chosen})
        new_id = chosen or memory_id()
        claims = None
        if fields["extract_claims"] and not fields["no_supersede"]:
            claims = await decided_at_write(ctx.extraction, ctx.embed, new_id, text)
        payload = MemorySubmitted(id=new_id, text=text, embedding=await ctx.embed(text),
                                  claims=claims, **fields)
        event = ctx.envelope(call, MEMORY_SUBMITTED, subject_id, payload.model_dump(mode="json"))
        return await ctx.submit(call, event)

    return handler
