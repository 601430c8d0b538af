"""Row-by-row digests of the projection tables, to prove two schemas hold the same state."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from kernel.projection_pointer import quote_ident

# table -> ordering key (a unique key, so the digest does not depend on physical order)
PROJECTION_TABLES: dict[str, str] = {
    "memories": "project_id, id",
    "claims": "project_id, claim_id",
    "claim_assertions": "project_id, assertion_id",
    "claim_edges": "project_id, edge_id",
    "slot_state": "project_id, subject_id, slot",
    "memory_recall_events": "event_id",
    "command_outcomes": "event_id",
    "subject_events": "project_id, subject_id, topic_partition, log_offset",
    "subjects": "project_id, subject_id",
}


@dataclass(frozen=True)
class TableDigest:
    rows: int
    md5: str | None


async def digest(conn: asyncpg.Connection, schema: str, table: str, key: str,
                 project: str | None = None) -> TableDigest:
    where = "WHERE t.project_id = $1" if project else ""
    args = [project] if project else []
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, md5(string_agg(t::text, E'\\n' ORDER BY {key})) AS h "
        f"FROM {quote_ident(schema)}.{table} t {where}", *args)
    return TableDigest(int(row["n"]), row["h"])


async def digests(conn: asyncpg.Connection, schema: str,
                  project: str | None = None) -> dict[str, TableDigest]:
    return {table: await digest(conn, schema, table, key, project)
            for table, key in PROJECTION_TABLES.items()}


async def differing_tables(conn: asyncpg.Connection, left: str, right: str,
                           project: str | None = None) -> list[str]:
    a = await digests(conn, left, project)
    b = await digests(conn, right, project)
    return [table for table in PROJECTION_TABLES if a[table] != b[table]]
