"""The command side's one read: which subject a memory belongs to, to key its event."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True)
class MemoryRef:
    id: str
    subject_id: str
    is_deleted: bool


async def find_memory(pool: asyncpg.Pool, project_id: str, memory_id: str) -> MemoryRef | None:
    row = await pool.fetchrow(
        "SELECT subject_id, is_deleted FROM memories WHERE id = $1 AND project_id = $2",
        memory_id, project_id)
    return MemoryRef(memory_id, row["subject_id"], row["is_deleted"]) if row else None
