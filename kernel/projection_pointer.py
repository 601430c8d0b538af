"""Which Postgres schema holds the live projection. A rebuild replays into a new schema and
switches this pointer; writers follow it per transaction, readers per connection."""

from __future__ import annotations

from collections.abc import Mapping

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


async def follow_pointer(conn: asyncpg.Connection,
                         local: Mapping[str, str] | None = None) -> None:
    """Point this transaction at the live projection schema (workers, per batch). `local`
    settings are set for the transaction in the same round trip as the lock; the pointer is
    read by the next statement, whose snapshot follows the lock (a switch committed while
    this transaction waited for the lock is seen)."""
    await conn.execute(f"SELECT {_set_local(local or {}, 2)}pg_advisory_xact_lock_shared($1)",
                       SWITCH_LOCK, *_flat(local or {}))
    schema = await active_schema(conn)
    if schema != "public":
        await conn.execute(f"SET LOCAL search_path TO {search_path(schema)}")


async def enter_schema(conn: asyncpg.Connection, schema: str,
                       local: Mapping[str, str] | None = None) -> None:
    """Point this transaction at `schema` (replays, as-of jobs), with `local` settings."""
    settings = {**(local or {}), "search_path": search_path(schema)}
    await conn.execute(f"SELECT {_set_local(settings, 1).rstrip(', ')}", *_flat(settings))


def _set_local(settings: Mapping[str, str], first: int) -> str:
    return "".join(f"set_config(${first + 2 * n}, ${first + 2 * n + 1}, true), "
                   for n in range(len(settings)))


def _flat(settings: Mapping[str, str]) -> list[str]:
    return [part for pair in settings.items() for part in pair]
