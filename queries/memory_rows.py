"""Memory rows in their API form (spec §1.4): no embedding, no is_deleted (unless asked)."""

from __future__ import annotations

from typing import Any

import asyncpg

MEMORY_COLUMNS = (
    "id, project_id, subject_id, text, kind, visibility, importance, confidence, is_temporal, "
    "tags, metadata, status, superseded_by, source_type, created_at, updated_at, last_seen_at, "
    "seen_count, reinforcement_count, last_reinforced_at"
)


def memory_api(row: asyncpg.Record, *, with_deleted_flag: bool = False) -> dict[str, Any]:
    body = {k: row[k] for k in MEMORY_COLUMNS.split(", ")}
    if with_deleted_flag:
        body["is_deleted"] = row["is_deleted"]
    return body
