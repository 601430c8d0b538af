"""Postgres pools with the pgvector codec registered on every connection."""

from __future__ import annotations

import asyncpg
import orjson
from pgvector.asyncpg import register_vector

from kernel.telemetry.db import observe_query


async def _init_connection(conn: asyncpg.Connection) -> None:
    conn.add_query_logger(observe_query)
    await register_vector(conn)
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (`pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL`), one round trip per release: CORE keeps no session state on
    pooled connections (settings are `SET LOCAL`, locks are transaction locks, LISTEN has its
    own connection). asyncpg still rolls back an open transaction before calling this."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10,
                      search_path: str | None = None) -> asyncpg.Pool:
    settings = {"search_path": _path(search_path)} if search_path else None
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection,
        server_settings=settings, reset=_keep_session,
    )
    assert pool is not None
    return pool


def _path(schema: str) -> str:
    return "public" if schema == "public" else f'"{schema}", public'


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


CONNECT_TIMEOUT_S = 15.0  # a wrong host or port fails in seconds, not asyncpg's default minute


async def connect_plain(dsn: str) -> asyncpg.Connection:
    """A connection without codecs, for migrations (the vector type may not exist yet)."""
    return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
