"""Claim, assertion and edge rows in their API form (spec §1.4 with §15 Q5, Q6):
no `embedding` anywhere, `edge_id` a JSON number."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

CLAIM_COLUMNS = (
    "claim_id, project_id, subject_id, predicate, object_value, slot, claim_type, confidence, "
    "importance, tags, source_memory_id, source_observation_id, subject_entity, status, "
    "asserted_at, updated_at, retracted_at, retract_reason, valid_from, valid_until"
)
ASSERTION_COLUMNS = (
    "assertion_id, project_id, subject_id, claim_id, memory_id, predicate, object_type, "
    "value_string, value_number, value_date, value_json, confidence, status, first_seen_at, "
    "last_seen_at"
)
EDGE_COLUMNS = (
    "edge_id, project_id, subject_id, from_claim_id, to_claim_id, edge_type, weight, "
    "reason_code, reason_text, created_at"
)
EDGES_TOUCHING = f"""
SELECT {EDGE_COLUMNS} FROM claim_edges
WHERE project_id = $1 AND (from_claim_id = ANY($2::text[]) OR to_claim_id = ANY($2::text[]))
  AND ($3::text IS NULL OR edge_type = $3)
ORDER BY created_at DESC, edge_id DESC
"""


def rows(records: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


async def edges_touching(pool: asyncpg.Pool, project_id: str, claim_ids: list[str],
                         edge_type: str | None = None) -> list[dict[str, Any]]:
    """Edges from or to any of the claims, newest first (none when there are no claims)."""
    if not claim_ids:
        return []
    return rows(await pool.fetch(EDGES_TOUCHING, project_id, claim_ids, edge_type))


def supersedes(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in edges if e["edge_type"] == "supersedes"]


def count_by_type(edges: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for edge in edges:
        counts[edge["edge_type"]] = counts.get(edge["edge_type"], 0) + 1
    return counts
