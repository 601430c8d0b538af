"""GET /api/v1/memories/{id}/claims: the assertions sourced from one memory (spec §5.9)."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from kernel.http import error, json_response
from kernel.routing import Call, Handler

VALUE_COLUMN = {"number": "value_number", "date": "value_date", "json": "value_json"}
ASSERTIONS_SQL = """
SELECT assertion_id, predicate, object_type, value_string, value_number, value_date,
  value_json, confidence, status, first_seen_at, last_seen_at
FROM claim_assertions WHERE project_id = $1 AND memory_id = $2
ORDER BY last_seen_at DESC, assertion_id
"""


def assertion_api(row: asyncpg.Record) -> dict[str, Any]:
    """`value` is the column of the assertion's type; anything else reads `value_string`."""
    return {
        "id": row["assertion_id"], "predicate": row["predicate"], "type": row["object_type"],
        "value": row[VALUE_COLUMN.get(row["object_type"], "value_string")],
        "confidence": row["confidence"], "status": row["status"],
        "first_seen_at": row["first_seen_at"], "last_seen_at": row["last_seen_at"],
    }


def memory_claims(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        memory_id = call.params["id"]
        deleted = await pool.fetchval(
            "SELECT is_deleted FROM memories WHERE id = $1 AND project_id = $2",
            memory_id, call.project_id)
        if deleted is None:
            return error(404, "memory_not_found")
        if deleted:
            return error(404, "memory_deleted")
        rows = await pool.fetch(ASSERTIONS_SQL, call.project_id, memory_id)
        data = [assertion_api(r) for r in rows]
        return json_response(200, {"data": data, "count": len(data)})

    return handler
