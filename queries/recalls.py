"""GET /api/v1/memories/recalls: recall events by chat, by memory, or a memory's stats (§9)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.datastructures import QueryParams
from starlette.responses import Response

from kernel.http import bool_param, error, int_param, json_response, str_param
from kernel.routing import Call, Handler

RECALL_COLUMNS = (
    "event_id, project_id, subject_id, memory_id, memory_text, chat_id, message_index, "
    "chat_logged, similarity_score, request_type, model, metadata, recalled_at"
)
BY_CHAT_SQL = f"""
SELECT {RECALL_COLUMNS} FROM memory_recall_events WHERE project_id = $1 AND chat_id = $2
ORDER BY recalled_at ASC, message_index ASC, similarity_score DESC, event_id
"""
BY_MEMORY_SQL = f"""
SELECT {RECALL_COLUMNS} FROM memory_recall_events WHERE project_id = $1 AND memory_id = $2
ORDER BY recalled_at DESC, similarity_score DESC, event_id LIMIT $3
"""
STATS_SQL = """
SELECT count(*) AS total_recalls, count(DISTINCT chat_id) AS unique_chats,
  count(DISTINCT subject_id) AS unique_subjects,
  coalesce(avg(similarity_score), 0) AS avg_score,
  min(recalled_at) AS first_recalled_at, max(recalled_at) AS last_recalled_at
FROM memory_recall_events WHERE project_id = $1 AND memory_id = $2
"""


def _rows(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


async def _by_chat(pool: asyncpg.Pool, project_id: str, chat_id: str) -> Response:
    data = _rows(await pool.fetch(BY_CHAT_SQL, project_id, chat_id))
    return json_response(200, {"data": data, "count": len(data), "chat_id": chat_id})


async def _by_memory(pool: asyncpg.Pool, project_id: str, memory_id: str,
                     query: QueryParams) -> Response:
    if bool_param(query.get("stats"), False):
        stats = dict(await pool.fetchrow(STATS_SQL, project_id, memory_id) or {})
        return json_response(200, {"memory_id": memory_id, "stats": stats})
    limit = int_param(query.get("limit"), 100, 1, 1000)
    data = _rows(await pool.fetch(BY_MEMORY_SQL, project_id, memory_id, limit))
    return json_response(200, {"data": data, "count": len(data), "memory_id": memory_id})


def list_recalls(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        chat_id, memory_id = str_param(query.get("chat_id")), str_param(query.get("memory_id"))
        if chat_id:
            return await _by_chat(pool, call.project_id, chat_id)
        if memory_id:
            return await _by_memory(pool, call.project_id, memory_id, query)
        return error(400, "missing_parameter", message="Provide either chat_id or memory_id")

    return handler
