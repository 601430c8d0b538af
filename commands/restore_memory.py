"""POST /api/v1/memories/{id}/restore: make a superseded memory active again (spec §5.8).

No body is read. The projector decides deleted / already active / restored.
"""

from __future__ import annotations

from starlette.responses import Response

from commands.context import CommandContext
from commands.memory_lookup import find_memory
from kernel.http import error
from kernel.routing import Call, Handler
from schemas.memory_events import MEMORY_RESTORED, MemoryRestored


def restore_memory(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        memory = await find_memory(ctx.pool, call.project_id, call.params["id"])
        if memory is None:
            return error(404, "memory_not_found")
        payload = MemoryRestored(id=memory.id).model_dump()
        event = ctx.envelope(call, MEMORY_RESTORED, memory.subject_id, payload)
        response: Response = await ctx.submit(call, event)
        return response

    return handler
