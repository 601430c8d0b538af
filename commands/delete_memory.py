"""DELETE /api/v1/memories/{id}: soft delete; never 404 (spec §5.5, §15 Q8). No body is read."""

from __future__ import annotations

from starlette.responses import Response

from commands.context import CommandContext
from commands.memory_lookup import find_memory
from kernel.http import json_response
from kernel.routing import Call, Handler
from schemas.memory_events import MEMORY_DELETED, MemoryDeleted


def delete_memory(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        memory = await find_memory(ctx.pool, call.project_id, call.params["id"])
        if memory is None:
            return json_response(200, {"ok": True, "deleted": False})
        payload = MemoryDeleted(id=memory.id).model_dump()
        event = ctx.envelope(call, MEMORY_DELETED, memory.subject_id, payload)
        response: Response = await ctx.submit(call, event)
        return response

    return handler
