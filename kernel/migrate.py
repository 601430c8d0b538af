"""Forward-only SQL migrations: applied in order under an advisory lock, checksummed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LOCK_ID = 0x434F5245  # "CORE"


@dataclass(frozen=True)
class MigrationFile:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text()

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]
    changed: list[str]
    unknown: list[str]

    @property
    def in_sync(self) -> bool:
        return not (self.pending or self.changed or self.unknown)


class ChecksumMismatch(RuntimeError):
    pass


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[MigrationFile]:
    return [MigrationFile(p.stem, p) for p in sorted(directory.glob("*.sql"))]


async def _applied(conn: asyncpg.Connection) -> dict[str, str]:
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def status(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    applied = await _applied(conn)
    files = migration_files(directory)
    known = {f.version for f in files}
    return MigrationStatus(
        applied=[f.version for f in files if f.version in applied],
        pending=[f.version for f in files if f.version not in applied],
        changed=[f.version for f in files if applied.get(f.version, f.checksum) != f.checksum],
        unknown=sorted(set(applied) - known),
    )


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending files; refuse when an applied file's checksum changed. Returns versions."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_ID)  # own connection
    try:
        current = await status(conn, directory)
        if current.changed:
            raise ChecksumMismatch(f"applied migrations changed on disk: {current.changed}")
        unrecorded: list[MigrationFile] = []
        done: list[str] = []
        for file in migration_files(directory):
            if file.version in current.applied:
                continue
            async with conn.transaction():
                await conn.execute(file.sql)
                unrecorded.append(file)
                unrecorded = await _record(conn, unrecorded)
            done.append(file.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_ID)


async def _record(conn: asyncpg.Connection, files: list[MigrationFile]) -> list[MigrationFile]:
    """schema_migrations is itself created by a migration: hold records until it exists."""
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return files
    await conn.executemany(
        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
        [(f.version, f.checksum) for f in files],
    )
    return []


def migrate_now(dsn: str) -> list[str]:
    """Apply pending migrations from synchronous code (`core dev`, tests)."""
    import asyncio

    async def run() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            return await migrate(conn)
        finally:
            await conn.close()

    return asyncio.run(run())
