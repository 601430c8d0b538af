"""As-of replays as jobs: queued per API process, one running at a time, bounded per
project, dropped by age.

A job is a row of `asof_schemas` (global, in public): `queued` → `building` → `ready` or
`failed`. `AsOfJobs.runner` is the one consumer of this process's queue (a
`SupervisedTask`): replays are whole folds of the log inside the API process, so they run
one after another, never side by side. `AsOfJobs.cleaner` (another `SupervisedTask`) drops
every as-of schema older than `CORE_ASOF_TTL_S` — also those of dead processes' jobs and
those built before jobs existed (registered on first sight, so they age from then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from kernel.projection_pointer import quote_ident
from kernel.tasks import SupervisedTask

log = logging.getLogger("core.asof")
Build = Callable[[asyncpg.Connection, str, str, datetime], Awaitable[dict[str, Any]]]
CLAIM_SQL = """
INSERT INTO asof_schemas (name, project_id, until, state) VALUES ($1, $2, $3, 'queued')
ON CONFLICT (name) DO UPDATE SET state = 'queued', created_at = now(), finished_at = NULL,
  result = NULL WHERE asof_schemas.state IN ('failed', 'ready')
RETURNING name
"""
"""A failed job, or a ready one whose schema was dropped by hand, may be queued again."""
REGISTER_UNKNOWN_SQL = r"""
INSERT INTO asof_schemas (name, project_id, state)
SELECT schema_name, '', 'ready' FROM information_schema.schemata
WHERE schema_name LIKE 'asof\_%' AND schema_name NOT LIKE '%\_build'
ON CONFLICT (name) DO NOTHING
"""


class LimitReached(Exception):
    pass


@dataclass
class Job:
    name: str
    project_id: str
    until: datetime
    done: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class AsOfJobs:
    dsn: str
    build: Build
    max_per_project: int
    ttl_s: float
    queue: asyncio.Queue[Job] = field(default_factory=asyncio.Queue)
    jobs: dict[str, Job] = field(default_factory=dict)

    async def submit(self, conn: asyncpg.Connection, name: str, project_id: str,
                     until: datetime) -> Job | None:
        """Queue a replay of a schema that does not exist (None: another process has it
        under way); raises `LimitReached` when the project already holds
        `max_per_project` schemas and jobs (failed ones do not count)."""
        if name in self.jobs:
            return self.jobs[name]
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", project_id)
            held = await conn.fetchval(
                "SELECT count(*) FROM asof_schemas WHERE project_id = $1 "
                "AND state <> 'failed' AND name <> $2", project_id, name)
            if held >= self.max_per_project:
                raise LimitReached()
            if await conn.fetchval(CLAIM_SQL, name, project_id, until) is None:
                return None
        job = self.jobs[name] = Job(name, project_id, until)
        self.queue.put_nowait(job)
        return job

    async def run_forever(self) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._run(job)
            finally:
                self.jobs.pop(job.name, None)

    async def _run(self, job: Job) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await _set_state(conn, job.name, "building", None)
            try:
                result = await self.build(conn, job.name, job.project_id, job.until)
            except Exception as exc:
                log.exception("as-of replay %s failed", job.name)
                await _set_state(conn, job.name, "failed", {"error": repr(exc)})
                job.done.set_result({"failed": True})
                return
            await _set_state(conn, job.name, "ready", result)
            job.done.set_result(result)
        finally:
            await conn.close()

    async def clean_forever(self) -> None:
        while True:
            conn = await asyncpg.connect(self.dsn)
            try:
                dropped = await drop_expired(conn, self.ttl_s, keep=set(self.jobs))
            finally:
                await conn.close()
            if dropped:
                log.info("dropped %d as-of schemas older than %.0fs", len(dropped), self.ttl_s)
            await asyncio.sleep(min(self.ttl_s / 2, 60.0))

    def start(self) -> list[SupervisedTask]:
        return [SupervisedTask("asof-replays", self.run_forever).start(),
                SupervisedTask("asof-cleanup", self.clean_forever).start()]


async def _set_state(conn: asyncpg.Connection, name: str, state: str,
                     result: dict[str, Any] | None) -> None:
    finished = "now()" if state in ("ready", "failed") else "NULL"
    await conn.execute(
        f"UPDATE asof_schemas SET state = $2, result = $3, finished_at = {finished} "
        "WHERE name = $1", name, state, orjson.dumps(result).decode() if result else None)


async def drop_expired(conn: asyncpg.Connection, ttl_s: float,
                       keep: set[str] | None = None) -> list[str]:
    """Drops every as-of schema (and its staging schema) older than `ttl_s`, except `keep`
    (this process's jobs under way); returns their names."""
    await conn.execute(REGISTER_UNKNOWN_SQL)
    names = [r["name"] for r in await conn.fetch(
        "SELECT name FROM asof_schemas WHERE created_at < now() - make_interval(secs => $1) "
        "ORDER BY name", ttl_s) if r["name"] not in (keep or set())]
    for name in names:
        async with conn.transaction():
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name + '_build')} CASCADE")
            await conn.execute("DELETE FROM asof_schemas WHERE name = $1", name)
    return names


async def job_status(conn: asyncpg.Connection, name: str,
                     project_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT name, project_id, until, state, result FROM asof_schemas "
        "WHERE name = $1 AND project_id = $2", name, project_id)
