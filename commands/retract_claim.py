"""POST /api/v1/claims/{id}/retract: produce `claim.retracted` keyed by the claim's subject."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from commands.coercion import js_string
from commands.context import CommandContext
from kernel.http import InvalidBody, error, json_response
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.claim_events import CLAIM_RETRACTED, DEFAULT_RETRACT_REASON, ClaimRetracted


def _body(raw: bytes) -> dict[str, Any]:
    """The body is optional and invalid JSON is ignored (spec §8.2); a NUL is refused."""
    try:
        return checked_body(raw)
    except InvalidBody:
        return {}


async def claim_subject(pool: asyncpg.Pool, project_id: str, claim_id: str) -> str | None:
    subject: str | None = await pool.fetchval(
        "SELECT subject_id FROM claims WHERE claim_id = $1 AND project_id = $2",
        claim_id, project_id)
    return subject


def retract_claim(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = _body(await call.request.body())
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        claim_id = call.params["id"]
        subject = await claim_subject(ctx.pool, call.project_id, claim_id)
        if subject is None:
            return error(404, "claim_not_found")
        reason = js_string(body["reason"]) if body.get("reason") else DEFAULT_RETRACT_REASON
        payload = ClaimRetracted(claim_id=claim_id, reason=reason).model_dump()
        response: Response = await ctx.submit(
            call, ctx.envelope(call, CLAIM_RETRACTED, subject, payload))
        return response

    return handler
