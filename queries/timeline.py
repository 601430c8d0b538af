"""GET /api/v1/subjects/{subject_id}/timeline: a subject's events in log order, paged by
position (every event of a subject lives in one partition, so the offset orders them).

The route needs `events:read`; each entry shows only what the caller may read: the payload
of a memory event only with `memories:read`, of a claim event only with `claims:read`
(otherwise `"payload": null, "redacted": true`); the idempotency key only of the caller's
own events; the actor only to `admin`.
"""

from __future__ import annotations

import re

import asyncpg
from starlette.responses import Response

from kernel.access import ADMIN, Caller, caller_of
from kernel.http import error, int_param, json_response
from kernel.routing import Call, Handler

_OFFSET = re.compile(r"-?[0-9]{1,18}")
"""A log offset; 18 digits always fit Postgres' bigint."""


def _after(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return -1
    _, _, offset = raw.rpartition(":")
    return int(offset) if _OFFSET.fullmatch(offset) else None


def subject_timeline(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        after = _after(query.get("after"))
        if after is None:
            return error(400, "invalid_after", message="after must be a position P:O")
        limit = int_param(query.get("limit"), 100, 1, 1000)
        rows = await pool.fetch(
            "SELECT topic_partition, log_offset, event_id, type, v, occurred_at, actor, "
            "idempotency_key, payload, outcome_status FROM subject_events "
            "WHERE project_id = $1 AND subject_id = $2 AND log_offset > $3 "
            "ORDER BY log_offset LIMIT $4",
            call.project_id, call.params["subject_id"], after, limit)
        caller = caller_of(call.request)
        data = [visible_event(r, caller) for r in rows]
        next_after = data[-1]["position"] if len(data) == limit else None
        return json_response(200, {"subject_id": call.params["subject_id"],
                                   "project_id": call.project_id, "count": len(data),
                                   "data": data, "next_after": next_after})

    return handler


def visible_event(row: asyncpg.Record, caller: Caller) -> dict[str, object]:
    own = row["actor"] == caller.id
    entry: dict[str, object] = {
        "position": f"{row['topic_partition']}:{row['log_offset']}",
        "event_id": row["event_id"], "type": row["type"], "v": row["v"],
        "occurred_at": row["occurred_at"],
        "actor": row["actor"] if caller.holds(ADMIN) else None,
        "idempotency_key": row["idempotency_key"] if own else None,
        "outcome_status": row["outcome_status"], "payload": row["payload"]}
    if not caller.may_read(row["type"]):
        entry.update(payload=None, redacted=True)
    return entry

