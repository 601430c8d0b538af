"""GET /api/v1/commands/{event_id}: the final outcome of an accepted command, once projected.

Any authenticated caller reaches the route. The principal that issued the command (the
event's actor) may always read its outcome, so a write-only producer can follow its own
`status_url`; anyone else needs the read scope of the command's kind (`memories:read` for
memory commands, `claims:read` for claim commands). An outcome the caller may not read is
answered exactly as an unknown command (pending while a fresh id could still be, then
404), so the route reveals nothing about commands of others.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from starlette.responses import Response

from kernel.access import Caller, caller_of
from kernel.http import error, json_response
from kernel.routing import Call, Handler, server_error

PENDING_FOR = timedelta(hours=1)


def _accepted_at(event_id: str) -> datetime | None:
    try:
        value = uuid.UUID(event_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)


def may_see(caller: Caller, row: asyncpg.Record) -> bool:
    return (row["actor"] is not None and row["actor"] == caller.id) \
        or caller.may_read(row["event_type"])


def _unknown(event_id: str) -> Response:
    accepted = _accepted_at(event_id)
    if accepted is None or datetime.now(UTC) - accepted > PENDING_FOR:
        return error(404, "command_not_found")
    return json_response(202, {"status": "pending", "event_id": event_id})


def command_status(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        event_id = call.params["event_id"]
        row = await pool.fetchrow(
            "SELECT status, body, event_type, actor FROM command_outcomes "
            "WHERE event_id = $1 AND project_id = $2", event_id, call.project_id)
        if row is None or not may_see(caller_of(call.request), row):
            return _unknown(event_id)
        if row["status"] >= 500:  # the detail stays in the logs
            return server_error(call.request, f"event {event_id}: {row['body']}",
                                call.project_id)
        return json_response(row["status"], orjson.loads(row["body"]))

    return handler
