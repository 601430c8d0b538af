"""Folds a system's whole events topic into a fresh database with the product's replayer
(`projections.replay`, what `core replay` runs), so a test can compare projection rows of
the live database with those of the replay."""

from __future__ import annotations

import uuid

import asyncpg

from kernel.migrate import migrate
from projections.replay import Replayer, StopRule
from tests.support.system import System


async def replay_into_fresh_database(system: System) -> str:
    """Creates a database, migrates it, applies the whole log; returns its DSN."""
    name = f"{system.database}_replay_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(system.infra.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = system.infra.dsn(name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    settings = system.settings().model_copy(update={"database_url": dsn})
    await Replayer(settings, "public").run(StopRule())
    return dsn


async def table_rows(dsn: str, table: str, project_id: str,
                     order_by: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"SELECT * FROM {table} WHERE project_id = $1 ORDER BY {order_by}", project_id)
        return [dict(r) for r in rows]
    finally:
        await conn.close()
