"""GET routes over slot winners: truth, one slot, all slots (spec §8.4–8.6 with §15 Q3).

The `superseded` group of the slots listing shows real supersession: every claim that a
newer claim superseded and that is neither retracted nor its slot's winner again, with
the claim that superseded it. `total` stays what §8.6 says it is — the number of slot rows
listed — so those claim rows are not counted in it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from kernel.http import bool_param, error, int_param, json_response
from kernel.routing import Call, Handler

TRUTH = """
SELECT ss.slot, ss.active_claim_id, c.predicate, c.object_value, c.claim_type, c.confidence,
  c.tags, ss.updated_at, c.source_memory_id, c.source_observation_id
FROM slot_state ss JOIN claims c
  ON c.project_id = ss.project_id AND c.claim_id = ss.active_claim_id
WHERE ss.project_id = $1 AND ss.subject_id = $2 AND ss.status = 'active'
  AND c.status = 'active' AND ($3::text IS NULL OR ss.slot = $3)
ORDER BY ss.updated_at DESC, ss.slot
"""
SLOTS = """
SELECT ss.slot, ss.active_claim_id, coalesce(c.predicate, '') AS predicate,
  coalesce(c.object_value, '') AS object_value, coalesce(c.claim_type, '') AS claim_type,
  coalesce(c.confidence, 0) AS confidence, coalesce(c.tags, '{}') AS tags, ss.updated_at,
  c.source_memory_id, c.source_observation_id, ss.status
FROM slot_state ss LEFT JOIN claims c
  ON c.project_id = ss.project_id AND c.claim_id = ss.active_claim_id
WHERE ss.project_id = $1 AND ss.subject_id = $2
ORDER BY ss.updated_at DESC, ss.slot LIMIT $3
"""
SUPERSEDED_CLAIMS = """
SELECT * FROM (
  SELECT DISTINCT ON (c.claim_id) c.slot, ss.active_claim_id, c.predicate, c.object_value,
    c.claim_type, c.confidence, c.tags, e.created_at AS updated_at, c.source_memory_id,
    c.source_observation_id, 'superseded' AS status, c.claim_id,
    e.from_claim_id AS superseded_by
  FROM claim_edges e JOIN claims c
    ON c.project_id = e.project_id AND c.claim_id = e.to_claim_id
  LEFT JOIN slot_state ss ON ss.project_id = c.project_id AND ss.subject_id = c.subject_id
    AND ss.slot = c.slot
  WHERE e.project_id = $1 AND e.subject_id = $2 AND e.edge_type = 'supersedes'
    AND c.status = 'active' AND ss.active_claim_id IS DISTINCT FROM c.claim_id
  ORDER BY c.claim_id, e.created_at DESC, e.edge_id DESC
) superseded ORDER BY updated_at DESC, claim_id LIMIT $3
"""


def truth_row(row: asyncpg.Record, include_source: bool) -> dict[str, Any]:
    body = dict(row)
    if not include_source:
        del body["source_memory_id"], body["source_observation_id"]
        return body
    body["source"] = {"memory_id": row["source_memory_id"],
                      "observation_id": row["source_observation_id"]}
    return body


def subject_truth(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        include = bool_param(call.request.query_params.get("include_source"), True)
        subject = call.params["subject_id"]
        found = await pool.fetch(TRUTH, call.project_id, subject, None)
        slots = [truth_row(r, include) for r in found]
        return json_response(200, {"subject_id": subject, "project_id": call.project_id,
                                   "slot_count": len(slots), "slots": slots})

    return handler


def subject_slot(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        subject, slot = call.params["subject_id"], call.params["slot"]
        row = await pool.fetchrow(TRUTH, call.project_id, subject, slot)
        if row is None:
            return error(404, "slot_not_found", subject_id=subject, slot=slot)
        return json_response(200, {
            "subject_id": subject, "project_id": call.project_id, "slot": slot,
            "active_claim_id": row["active_claim_id"], "predicate": row["predicate"],
            "object_value": row["object_value"], "claim_type": row["claim_type"],
            "confidence": row["confidence"], "updated_at": row["updated_at"],
            "tags": row["tags"] or [], "source": {"memory_id": row["source_memory_id"],
                                                  "observation_id": row["source_observation_id"]}})

    return handler


def subject_slots(pool: asyncpg.Pool) -> Handler:
    async def handler(call: Call) -> Response:
        subject = call.params["subject_id"]
        limit = int_param(call.request.query_params.get("limit"), 100, 1, 500)
        groups: dict[str, list[dict[str, Any]]] = {"active": [], "superseded": [], "other": []}
        slots = await pool.fetch(SLOTS, call.project_id, subject, limit)
        for row in slots:
            groups[row["status"] if row["status"] in groups else "other"].append(dict(row))
        superseded = await pool.fetch(SUPERSEDED_CLAIMS, call.project_id, subject, limit)
        groups["superseded"].extend(dict(r) for r in superseded)
        return json_response(200, {
            "subject_id": subject, "total": len(slots),
            "active_count": len(groups["active"]), "slots": groups})

    return handler
