"""PATCH /api/v1/memories/{id}: parse, validate, re-embed, produce `memory.patched`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from commands.context import CommandContext
from commands.memory_lookup import MemoryRef, find_memory
from commands.patch_validation import patch_changes
from kernel.http import InvalidBody, error, json_response
from kernel.input_limits import Invalid, checked_body
from kernel.routing import Call, Handler
from schemas.memory_events import MEMORY_PATCHED, MemoryPatched


async def _patched(ctx: CommandContext, memory_id: str, changes: dict[str, Any]) -> MemoryPatched:
    """A text change carries its new vector, or asks to clear the stale one."""
    if "text" not in changes:
        return MemoryPatched(id=memory_id, changes=changes)
    vector = await ctx.embed(changes["text"])
    return MemoryPatched(id=memory_id, changes=changes, embedding=vector or None,
                         clear_embedding=not vector)


def _rejected(memory: MemoryRef, bad: Invalid) -> Response:
    # the reference answers a deleted memory's 404 before any field error (a deletion is final)
    if memory.is_deleted:
        return error(404, "memory_deleted")
    return json_response(bad.status, bad.body)


def patch_memory(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = checked_body(await call.request.body())
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        memory = await find_memory(ctx.pool, call.project_id, call.params["id"])
        if memory is None:
            return error(404, "memory_not_found")
        try:
            changes = patch_changes(body)
        except Invalid as bad:
            return _rejected(memory, bad)
        payload = await _patched(ctx, memory.id, changes)
        event = ctx.envelope(call, MEMORY_PATCHED, memory.subject_id, payload.model_dump())
        response: Response = await ctx.submit(call, event)
        return response

    return handler
