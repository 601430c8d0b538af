"""GET /api/v1/memories/search (spec §6.1): the configured recall engine over one subject.

With a `chat_id` the returned memories are handed to the injected recall recorder
(§15 Q14), which records them as a `memory.recalled` event; queries never write.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from starlette.datastructures import QueryParams
from starlette.responses import Response

from kernel.http import error, int_param, js_number, json_response, str_param
from kernel.routing import Call, Handler
from queries.recall import RecallEngine, RecallResult
from queries.search_store import store_sources

RecallRecorder = Callable[[Call, str, list[dict[str, Any]], dict[str, Any]], Awaitable[None]]
"""record(call, subject_id, hits in API form, query parameters)."""

DEFAULT_MIN_SCORE = 30.0


def min_score_param(query: Mapping[str, str]) -> float:
    """`min_score`, else `distance`, else 30; non-numeric → 30, empty → 0, clamped 0..100."""
    raw = query.get("min_score")
    if raw is None:
        raw = query.get("distance")
    if raw is None:
        return DEFAULT_MIN_SCORE
    number = js_number(raw)
    return min(max(number, 0.0), 100.0) if math.isfinite(number) else DEFAULT_MIN_SCORE


def first_values(query: QueryParams) -> dict[str, str]:
    """Each parameter's first value (§4.1: a repeated key reads as its first occurrence)."""
    return {key: query.getlist(key)[0] for key in query}


def context_param(query: QueryParams) -> list[str]:
    """Repeatable `context`: trimmed, empties dropped, the last 5 kept."""
    return [item for item in (raw.strip() for raw in query.getlist("context")) if item][-5:]


def search_body(q: str, engine: str, result: RecallResult) -> dict[str, Any]:
    data = [hit.to_api() for hit in result.hits]
    return {
        "data": data, "query": q, "count": len(data), "engine": engine, "mode": result.mode,
        "used_queries": list(result.used_queries), "predicates": list(result.predicates),
    }


def search_memories(
    pool: asyncpg.Pool, engine: RecallEngine, record: RecallRecorder | None = None
) -> Handler:
    async def handler(call: Call) -> Response:
        params = first_values(call.request.query_params)
        subject = str_param(params.get("subject_id"))
        if not subject:
            return error(400, "subject_id_required")
        q = str_param(params.get("q"))
        if not q:
            return error(400, "q_required")
        result = await engine.recall(
            store_sources(pool, call.project_id, subject), q,
            limit=int_param(params.get("limit"), 25, 1, 200),
            min_score=min_score_param(params),
            context=context_param(call.request.query_params),
        )
        body = search_body(q, engine.name, result)
        if record is not None and str_param(params.get("chat_id")):
            await record(call, subject, body["data"], dict(params))
        return json_response(200, body)

    return handler
