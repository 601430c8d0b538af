"""Which Postgres schema holds the live projection. A rebuild replays into a new schema and
switches this pointer; writers follow it per transaction, readers per connection."""

from __future__ import annotations

import asyncpg

SWITCH_LOCK = 0x53574954  # "SWIT": workers hold it shared per batch, a switch exclusively
CHANNEL = "core_projection_switch"
# Tables that stay in `public` whatever schema holds the projection.
GLOBAL_TABLES = ("schema_migrations", "outbox", "dead_letter_outbox", "extraction_requests",
                 "api_keys", "idempotency_keys", "projection_pointer",
                 "client_id_reservations", "asof_schemas", "subject_keys", "stream_tokens")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def active_schema(conn: asyncpg.Connection) -> str:
    name = await conn.fetchval("SELECT schema_name FROM public.projection_pointer")
    return str(name) if name else "public"


def search_path(schema: str) -> str:
    return "public" if schema == "public" else f"{quote_ident(schema)}, public"


async def follow_pointer(conn: asyncpg.Connection) -> None:
    """Point this transaction at the live projection schema (workers, per batch)."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", SWITCH_LOCK)
    schema = await active_schema(conn)
    if schema != "public":
        await conn.execute(f"SET LOCAL search_path TO {search_path(schema)}")
