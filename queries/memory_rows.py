"""Memory rows in their API form (spec §1.4): no embedding, no is_deleted (unless asked).

Lists are serialized by Postgres (`memory_json`): building fifty rows of twenty fields in
Python, four timestamps each, cost the API most of a list request's CPU. The JSON is the
same document as `memory_api` + `kernel.http.dumps` (timestamps `…T…:ss.mmmZ`, keys in
column order; a test compares them), only spaced differently inside `metadata`.
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
    """A SQL expression over a `memories` row in FROM: the row as its API JSON object.

    `row_to_json` of a one-row subquery rather than `json_build_object`: it costs Postgres
    about a sixth less CPU per row (the latter looks up every argument's type on every
    row) and writes no spaces, so a list of fifty is a tenth smaller; the keys stay in
    column order. Being a scalar subquery, it leaves the caller's ORDER BY on the real
    columns."""
    columns = MEMORY_COLUMNS.split(", ") + (["is_deleted"] if with_deleted_flag else [])
    fields = ", ".join(f"{ISO_MS.format(c)} AS {c}" if c in TIMESTAMPS else c
                       for c in columns)
    return f"(SELECT row_to_json(j)::text FROM (SELECT {fields}) j)"


def json_list(rows: list[str]) -> bytes:
    """`{"data": [...], "count": n}` around rows serialized by `memory_json`."""
    return (b'{"data":[' + ",".join(rows).encode() + b'],"count":'
            + str(len(rows)).encode() + b"}")


def memory_api(row: asyncpg.Record, *, with_deleted_flag: bool = False) -> dict[str, Any]:
    body = {k: row[k] for k in MEMORY_COLUMNS.split(", ")}
    if with_deleted_flag:
        body["is_deleted"] = row["is_deleted"]
    return body
