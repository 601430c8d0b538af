"""GET routes over single claims and a subject's claim graph and history (spec §8.3, 8.7, 8.8)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from kernel.http import error, int_param, json_response, str_param
from kernel.routing import Call, Handler
from queries.claim_rows import (
    ASSERTION_COLUMNS,
    CLAIM_COLUMNS,
    count_by_type,
    edges_touching,
    rows,
    supersedes,
)

SUBJECT_CLAIMS = f"""
SELECT {CLAIM_COLUMNS} FROM claims
WHERE project_id = $1 AND subject_id = $2 AND ($3::text IS NULL OR slot = $3)
ORDER BY asserted_at DESC, claim_id DESC LIMIT $4
"""


def get_claim(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        claim_id = call.params["id"]
        claim = await pool.fetchrow(
            f"SELECT {CLAIM_COLUMNS} FROM claims WHERE claim_id = $1 AND project_id = $2",
            claim_id, call.project_id)
        if claim is None:
            return error(404, "claim_not_found")
        assertions = await pool.fetch(
            f"SELECT {ASSERTION_COLUMNS} FROM claim_assertions WHERE project_id = $1 "
            "AND claim_id = $2 ORDER BY last_seen_at DESC, assertion_id", call.project_id,
            claim_id)
        edges = await edges_touching(pool, call.project_id, [claim_id])
        return json_response(200, {"claim": dict(claim), "assertions": rows(assertions),
                                   "edges": edges, "supersession_chain": supersedes(edges)})

    return handler


async def subject_claims(pool: asyncpg.Pool, call: Call, slot: str | None,
                         limit: int) -> list[dict[str, Any]]:
    return rows(await pool.fetch(SUBJECT_CLAIMS, call.project_id, call.params["subject_id"],
                                 slot, limit))


def claim_graph(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        limit = int_param(call.request.query_params.get("limit"), 50, 1, 200)
        claims = await subject_claims(pool, call, None, limit)
        edges = await edges_touching(pool, call.project_id, [c["claim_id"] for c in claims])
        return json_response(200, {
            "subject_id": call.params["subject_id"], "claims_count": len(claims),
            "edges_count": len(edges), "edges_by_type": count_by_type(edges),
            "claims": claims, "edges": edges})

    return handler


def claim_history(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        query = call.request.query_params
        slot = str_param(query.get("slot")) or None
        claims = await subject_claims(pool, call, slot, int_param(query.get("limit"), 100, 1,
                                                                  500))
        by_slot: dict[str, list[dict[str, Any]]] = {}
        for claim in claims:
            by_slot.setdefault(claim["slot"] or "_unknown", []).append(claim)
        edges = await edges_touching(pool, call.project_id, [c["claim_id"] for c in claims],
                                     "supersedes")
        return json_response(200, {
            "subject_id": call.params["subject_id"], "project_id": call.project_id,
            "slot_filter": slot, "by_slot": by_slot, "edges": edges,
            "total_claims": len(claims)})

    return handler
