"""DELETE /api/v1/subjects/{subject_id}: forget a subject (right to erasure).

Produces `subject.forgotten` naming the subject's last data-key generation; the projector
deletes every row of the subject and destroys those keys. The generation is read and the
event produced under the subject's key lock, so a write that starts a new generation is
either counted (its event refused if it lands after the forget) or logged after the
forget (and applied under the new generation). 200 once applied, 202 with
`Prefer: respond-async` or when the projector is slow. Forgetting an unknown subject is
not an error: afterwards nothing of it is held either way.
"""

from __future__ import annotations

from starlette.responses import Response

from commands.context import CommandContext
from kernel.routing import Call, Handler
from kernel.shredding import last_generation, lock_subject
from schemas.subject_events import SUBJECT_FORGOTTEN, SubjectForgotten


def forget_subject(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        subject = call.params["subject_id"]
        async with ctx.pool.acquire() as conn, conn.transaction():
            await lock_subject(conn, call.project_id, subject)
            up_to = await last_generation(conn, call.project_id, subject)
            payload = SubjectForgotten(up_to_generation=up_to).model_dump()
            event = ctx.envelope(call, SUBJECT_FORGOTTEN, subject, payload)
            response: Response = await ctx.submit(call, event)
        return response

    return handler
