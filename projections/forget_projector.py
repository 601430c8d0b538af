"""Folds `subject.forgotten`: deletes every row of the subject and destroys its data keys,
in the batch's transaction (docs/security.md "Forgetting a subject").

Tables are found by their columns, not listed: every table of the transaction's schemas
with `project_id` and `subject_id` columns loses the subject's rows (memories, claims,
assertions, edges, slots, recalls, timeline, outbox, extraction queue, id reservations, and
any table added later). Command outcomes and stored idempotency answers are found through
the subject (and its timeline). The live projector also purges the global tables in public
and every other projection schema (as-of replays, schemas kept by a rebuild); a replay
purges only its own schema.

Deterministic: the keys destroyed are those up to the generation the event names, so a
replay or a restore's catch-up applying the event again ends the same generations and never
one created by a write after the forget.
"""

from __future__ import annotations

import asyncpg

from kernel.projection_pointer import GLOBAL_TABLES, active_schema, quote_ident
from kernel.shredding import destroy_keys
from projections.unit_of_work import EventTx, Handler
from schemas.changes import SUBJECT_FORGOTTEN as FORGOTTEN_CHANGE
from schemas.outcomes import Outcome
from schemas.subject_events import SUBJECT_FORGOTTEN, SubjectForgotten

SUBJECT_TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relname <> 'subject_keys'
  AND (n.nspname = ANY($1::text[]) OR (n.nspname = 'public' AND c.relname = ANY($2::text[])))
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
              AND a.attname = 'subject_id' AND NOT a.attisdropped)
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
              AND a.attname = 'project_id' AND NOT a.attisdropped)
ORDER BY n.nspname, c.relname
"""
PROJECTION_SCHEMAS_SQL = """
SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = 'subject_events' AND c.relkind = 'r'
"""


async def _schemas(conn: asyncpg.Connection) -> tuple[list[str], bool]:
    """The projection schemas to purge, and whether this is the live projection (which also
    purges the global tables in public; a replay must not: they hold live, later rows)."""
    current = str(await conn.fetchval("SELECT current_schema()"))
    if current != await active_schema(conn):
        return [current], False
    return sorted({current} | {r[0] for r in await conn.fetch(PROJECTION_SCHEMAS_SQL)}), True


async def _purge_answers(conn: asyncpg.Connection, schema: str, project: str,
                         subject: str, live: bool) -> None:
    """Outcomes and idempotency answers, before the timeline that names their events."""
    s = quote_ident(schema)
    events = (f"SELECT event_id FROM {s}.subject_events "
              "WHERE project_id = $1 AND subject_id = $2")
    if await conn.fetchval("SELECT to_regclass($1)", f"{s}.command_outcomes"):
        await conn.execute(
            f"DELETE FROM {s}.command_outcomes WHERE project_id = $1 "
            f"AND (subject_id = $2 OR event_id IN ({events}))", project, subject)
    if live:
        await conn.execute(f"DELETE FROM public.idempotency_keys WHERE project_id = $1 "
                           f"AND event_id IN ({events})", project, subject)


async def purge_subject(conn: asyncpg.Connection, schemas: list[str], live: bool,
                        project: str, subject: str) -> None:
    for schema in schemas:
        if await conn.fetchval("SELECT to_regclass($1)",
                               f"{quote_ident(schema)}.subject_events"):
            await _purge_answers(conn, schema, project, subject, live)
    globals_ = list(GLOBAL_TABLES) if live else []
    for row in await conn.fetch(SUBJECT_TABLES_SQL, schemas, globals_):
        await conn.execute(
            f"DELETE FROM {quote_ident(row['schema'])}.{quote_ident(row['name'])} "
            "WHERE project_id = $1 AND subject_id = $2", project, subject)


async def forgotten(tx: EventTx) -> Outcome:
    event = tx.event
    payload = SubjectForgotten.model_validate(event.payload)
    schemas, live = await _schemas(tx.conn)
    await purge_subject(tx.conn, schemas, live, event.project_id, event.subject_id)
    await destroy_keys(tx.conn, event.project_id, event.subject_id, payload.up_to_generation,
                       event.occurred_at)
    tx.emit(FORGOTTEN_CHANGE, {"subject_id": event.subject_id})
    return Outcome(200, {"ok": True, "forgotten": True, "subject_id": event.subject_id})


HANDLERS: dict[str, Handler] = {SUBJECT_FORGOTTEN: forgotten}
