"""Client-chosen memory and claim ids, reserved per project before their event is produced.

Ids are unique per project. Events of two subjects sit in two partitions, which projectors
apply in no fixed order relative to each other (and a replay in another order again), so no
projector could decide identically every time which of two subjects' events with one id
wins: the first applied would. The API decides it before the log instead: the first subject
to reserve an id keeps it, and another subject's write with that id is refused (409) and
never produced. Events of one subject with one id sit in one partition, in log order, so
the projector's own check decides them, the same way on every replay. Generated ids
(UUIDs) need no reservation.
"""

from __future__ import annotations

from typing import Literal

import asyncpg

Kind = Literal["memory", "claim"]
STORED = {"memory": "SELECT subject_id FROM memories WHERE project_id = $1 AND id = $2",
          "claim": "SELECT subject_id FROM claims WHERE project_id = $1 AND claim_id = $2"}
RESERVE = """
INSERT INTO client_id_reservations (project_id, kind, id, subject_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (project_id, kind, id) DO UPDATE SET kind = EXCLUDED.kind
RETURNING subject_id
"""


async def reserve_id(pool: asyncpg.Pool, project_id: str, kind: Kind, id_: str,
                     subject_id: str) -> bool:
    """True when `subject_id` may use the id: reserved by it now or earlier, and held by
    no other subject's row (rows written before reservations existed count too)."""
    async with pool.acquire() as conn, conn.transaction():
        stored = await conn.fetchval(STORED[kind], project_id, id_)
        if stored is not None and stored != subject_id:
            return False
        owner = await conn.fetchval(RESERVE, project_id, kind, id_, subject_id)
        return bool(owner == subject_id)
