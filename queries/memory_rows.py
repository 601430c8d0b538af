"""Memory rows in their API form (spec §1.4): no embedding, no is_deleted (unless asked).

Lists are serialized by Postgres (`memory_json`): building fifty rows of twenty fields in
Python, four timestamps each, cost the API most of a list request's CPU. The JSON is the
same document as `memory_api` + `kernel.http.dumps` (timestamps `…T…:ss.mmmZ`, keys in
column order; a test compares them), only spaced differently.
"""

from __future__ import annotations

from typing import Any

import asyncpg

MEMORY_COLUMNS = (
    "id, project_id, subject_id, text, kind, visibility, importance, confidence, is_temporal, "
    "tags, metadata, status, superseded_by, source_type, created_at, updated_at, last_seen_at, "
    "seen_count, reinforcement_count, last_reinforced_at"
)


TIMESTAMPS = ("created_at", "updated_at", "last_seen_at", "last_reinforced_at")
ISO_MS = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


def memory_json(*, with_deleted_flag: bool = False) -> str:
    """A SQL expression: one `memories` row as its API JSON object (json, not jsonb: the
    keys stay in column order)."""
    columns = MEMORY_COLUMNS.split(", ") + (["is_deleted"] if with_deleted_flag else [])
    fields = ", ".join(f"'{c}', {ISO_MS.format(c) if c in TIMESTAMPS else c}"
                       for c in columns)
    return f"json_build_object({fields})::text"


def json_list(rows: list[str]) -> bytes:
    """`{"data": [...], "count": n}` around rows serialized by `memory_json`."""
    return (b'{"data":[' + ",".join(rows).encode() + b'],"count":'
            + str(len(rows)).encode() + b"}")


def memory_api(row: asyncpg.Record, *, with_deleted_flag: bool = False) -> dict[str, Any]:
    body = {k: row[k] for k in MEMORY_COLUMNS.split(", ")}
    if with_deleted_flag:
        body["is_deleted"] = row["is_deleted"]
    return body
