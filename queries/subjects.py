"""GET /api/v1/subjects: the project's subjects, most recently active first, read from the
`subjects` projection (never a scan of `memories`).

`prefix=` keeps the subjects whose id starts with it (case-sensitive). Pages follow a cursor:
`next_cursor` encodes the last row's (last_activity_at, subject_id), the listing order, so a
page never repeats or skips a subject that did not move meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from starlette.responses import Response

from kernel.http import error, int_param, json_response, str_param
from kernel.input_limits import Invalid, fits, identifier
from kernel.routing import Call, Handler

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
COLUMNS = "subject_id, memory_count, claim_count, last_activity_at"
Cursor = tuple[datetime, str]


def encode_cursor(at: datetime, subject_id: str) -> str:
    micros = (at - EPOCH) // timedelta(microseconds=1)
    raw = orjson.dumps([micros, subject_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor | None:
    """The position a cursor names; None when it is no cursor of this route."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        micros, subject_id = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None
    if type(micros) is not int or not isinstance(subject_id, str) or not fits(subject_id):
        return None
    try:
        return EPOCH + timedelta(microseconds=micros), subject_id
    except OverflowError:
        return None


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching ids that start with `prefix` (its wildcards taken literally)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def subjects_query(project_id: str, limit: int, prefix: str,
                   cursor: Cursor | None) -> tuple[str, list[object]]:
    args: list[object] = [project_id, limit]
    where = ["project_id = $1"]
    if prefix:
        args.append(like_prefix(prefix))
        where.append(f"subject_id LIKE ${len(args)}")
    if cursor is not None:
        args += list(cursor)
        where.append(f"(last_activity_at, subject_id) < (${len(args) - 1}, ${len(args)})")
    sql = (f"SELECT {COLUMNS} FROM subjects WHERE {' AND '.join(where)} "
           "ORDER BY last_activity_at DESC, subject_id DESC LIMIT $2")
    return sql, args


def list_subjects(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        prefix = str_param(query.get("prefix"))
        try:
            identifier(prefix, "prefix")
        except Invalid as exc:
            return json_response(exc.status, exc.body)
        cursor: Cursor | None = None
        if query.get("cursor"):
            cursor = decode_cursor(query["cursor"])
            if cursor is None:
                return error(400, "invalid_cursor",
                             message="cursor must be a next_cursor of this route")
        limit = int_param(query.get("limit"), 50, 1, 500)
        sql, args = subjects_query(call.project_id, limit, prefix, cursor)
        rows = await pool.fetch(sql, *args)
        data = [dict(r) for r in rows]
        last = data[-1] if len(data) == limit else None
        return json_response(200, {
            "project_id": call.project_id, "prefix": prefix or None, "count": len(data),
            "data": data,
            "next_cursor": encode_cursor(last["last_activity_at"], last["subject_id"])
            if last else None})

    return handler
