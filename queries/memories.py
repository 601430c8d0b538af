"""GET routes over the `memories` projection (spec §5.1, §5.3, §5.7)."""

from __future__ import annotations

import asyncpg
from starlette.responses import Response

from kernel.http import bool_param, error, int_param, json_bytes, json_response, str_param
from kernel.routing import Call, Handler
from queries.memory_rows import MEMORY_COLUMNS, json_list, memory_api, memory_json


def get_memory(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        row = await pool.fetchrow(
            f"SELECT {MEMORY_COLUMNS}, is_deleted FROM memories WHERE id = $1 AND project_id = $2",
            call.params["id"], call.project_id)
        if row is None:
            return error(404, "memory_not_found")
        if row["is_deleted"]:
            return error(404, "memory_deleted")
        return json_response(200, {"data": memory_api(row)})

    return handler


def list_memories(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        subject = str_param(query.get("subject_id"))
        if not subject:
            return error(400, "subject_id_required")
        include_deleted = bool_param(query.get("include_deleted"), False)
        include_superseded = bool_param(query.get("include_superseded"), False)
        rows = await pool.fetch(
            f"SELECT {memory_json(with_deleted_flag=include_deleted)} FROM memories "
            "WHERE project_id = $1 AND subject_id = $2 AND ($3 OR NOT is_deleted) "
            "AND ($4 OR status = 'active') ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6",
            call.project_id, subject, include_deleted, include_superseded,
            int_param(query.get("limit"), 50, 1, 200),
            int_param(query.get("offset"), 0, 0, 1_000_000))
        return json_bytes(json_list([r[0] for r in rows]))

    return handler


def list_superseded(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        subject = str_param(query.get("subject_id"))
        if not subject:
            return error(400, "subject_id_required")
        rows = await pool.fetch(
            f"SELECT {memory_json()} FROM memories WHERE project_id = $1 AND subject_id = $2 "
            "AND status = 'superseded' AND NOT is_deleted ORDER BY created_at DESC, id DESC "
            "LIMIT $3 OFFSET $4",
            call.project_id, subject, int_param(query.get("limit"), 50, 1, 200),
            int_param(query.get("offset"), 0, 0, 1_000_000))
        return json_bytes(json_list([r[0] for r in rows]))

    return handler
