"""POST /api/v1/admin/replays (scope `admin`): fold the project's events up to a moment into
a fresh projection schema, so an admin can read "what CORE believed then" with the header
`x-core-as-of-schema: <schema>` on any GET route (the console's time slider does this).

Body `{"until": "<ISO-8601 with a timezone>"}`; the project is the request's project.
The replay is `projections.replay.Replayer` with `StopRule(until=…)` and `project=`: every
partition stops at its first event after `until`, a prefix of the log, so the schema holds a
state that really existed. The schema's name is derived from the project and `until`
(`asof_<24 hex>`), so asking twice reuses the first build (200, `cached: true`) instead of
replaying again (201). A moment within the last minute may still gain events that were
accepted but not yet in the log, so its name also covers the log's current end offsets.

A replay is a job (`core.asof_jobs`): queued in this API process, which runs one replay at a
time; the route waits up to `WAIT_S` (none with `Prefer: respond-async`) and answers 201 with
the build, or 202 with `status_url` (`GET /api/v1/admin/replays/<schema>`: `status` queued,
building, ready or failed) for the console to poll. A project holds at most
`CORE_ASOF_MAX_PER_PROJECT` schemas and jobs (then 429 `asof_limit_reached`); schemas older
than `CORE_ASOF_TTL_S` are dropped by a supervised task (or by hand,
`core projections drop asof_…`).

Builds are serialised per name by a Postgres advisory lock and go into `<name>_build`, which is
renamed only when complete: a half-built schema is never readable. The API process is the
composition root, which is why this module may use the projections package.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from starlette.responses import Response

from commands.publisher import wants_async
from core.asof_jobs import AsOfJobs, Job, LimitReached, job_status
from kernel.http import InvalidBody, body_fields, error, json_response, parse_body
from kernel.kafka import end_offsets
from kernel.projection_pointer import quote_ident
from kernel.routing import Call, RouteSpec
from kernel.settings import Settings
from kernel.tasks import SupervisedTask
from kernel.timefmt import iso_ms
from projections.replay import Replayer, StopRule, create_projection_schema

PATH = "/api/v1/admin/replays"
PREFIX = "asof_"
SETTLE = timedelta(minutes=1)
WAIT_S = 30.0


class BadRequest(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def parse_until(raw: bytes) -> datetime:
    try:
        value = body_fields(parse_body(raw)).get("until")
    except InvalidBody as exc:
        raise BadRequest("invalid_json_body", "the body must be a JSON object") from exc
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("until_required", "give until as an ISO-8601 time with a timezone")
    try:
        until = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("invalid_until", "until is not an ISO-8601 time") from exc
    if until.tzinfo is None:
        raise BadRequest("invalid_until", "until needs a timezone, e.g. 2026-01-31T12:00:00Z")
    try:
        until = until.astimezone(UTC)
    except OverflowError as exc:
        raise BadRequest("invalid_until", "until is out of range") from exc
    if until > datetime.now(UTC):
        raise BadRequest("until_in_future", "until must not be in the future")
    return until


def schema_name(project_id: str, until: datetime, log_ends: dict[int, int] | None = None) -> str:
    ends = ",".join(f"{p}:{o}" for p, o in sorted((log_ends or {}).items()))
    digest = hashlib.sha256(f"{project_id}\n{iso_ms(until)}\n{ends}".encode()).hexdigest()
    return PREFIX + digest[:24]


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def schema_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", name))


class AsOfReplays:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = AsOfJobs(settings.resolved_database_url(), self._build,
                             settings.asof_max_per_project, settings.asof_ttl_s)

    def routes(self) -> list[RouteSpec]:
        return [RouteSpec("POST", PATH, self.create, "admin"),
                RouteSpec("GET", PATH + "/{name}", self.status, "admin")]

    def start(self) -> list[SupervisedTask]:
        return self.jobs.start()

    async def create(self, call: Call) -> Response:
        try:
            until = parse_until(await call.request.body())
        except BadRequest as exc:
            return error(400, exc.code, message=exc.message)
        name = await self._name(call.project_id, until)
        conn = await asyncpg.connect(self.settings.resolved_database_url())
        try:
            if await schema_exists(conn, name):
                return self._answer(200, name, call.project_id, until, {"cached": True})
            job = await self.jobs.submit(conn, name, call.project_id, until)
        except LimitReached:
            return error(429, "asof_limit_reached", max=self.settings.asof_max_per_project,
                         message="this project holds as many as-of schemas as allowed; they "
                                 "are dropped after CORE_ASOF_TTL_S")
        finally:
            await conn.close()
        if job is None or wants_async(call.request.headers.get("prefer")):
            return self._answer(202, name, call.project_id, until, self._pending(name))
        return await self._awaited(job, call.project_id, until)

    async def _awaited(self, job: Job, project_id: str, until: datetime) -> Response:
        try:
            result = await asyncio.wait_for(asyncio.shield(job.done), WAIT_S)
        except TimeoutError:
            return self._answer(202, job.name, project_id, until, self._pending(job.name))
        if result.get("failed"):
            return error(500, "replay_failed", schema=job.name)
        return self._answer(201, job.name, project_id, until, result)

    async def status(self, call: Call) -> Response:
        conn = await asyncpg.connect(self.settings.resolved_database_url())
        try:
            row = await job_status(conn, call.params["name"], call.project_id)
        finally:
            await conn.close()
        if row is None:
            return error(404, "replay_not_found")
        result = orjson.loads(row["result"]) if row["result"] else {}
        until = iso_ms(row["until"]) if row["until"] else None
        return json_response(200, {"schema": row["name"], "project_id": row["project_id"],
                                   "until": until, **result, "status": row["state"]})

    @staticmethod
    def _pending(name: str) -> dict[str, Any]:
        return {"status": "queued", "status_url": f"{PATH}/{name}"}

    async def _name(self, project_id: str, until: datetime) -> str:
        if until < datetime.now(UTC) - SETTLE:
            return schema_name(project_id, until)
        ends = await end_offsets(self.settings, self.settings.events_topic)
        return schema_name(project_id, until, ends)

    async def _build(self, conn: asyncpg.Connection, name: str, project_id: str,
                     until: datetime) -> dict[str, Any]:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key(name))  # own connection
        try:
            return await self._replay(conn, name, project_id, until)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key(name))

    async def _replay(self, conn: asyncpg.Connection, name: str, project_id: str,
                      until: datetime) -> dict[str, Any]:
        staging = quote_ident(f"{name}_build")
        await conn.execute(f"DROP SCHEMA IF EXISTS {staging} CASCADE")
        await create_projection_schema(conn, f"{name}_build")
        try:
            summary = await Replayer(self.settings, f"{name}_build", project=project_id).run(
                StopRule(until=until))
        except BaseException:
            await conn.execute(f"DROP SCHEMA IF EXISTS {staging} CASCADE")
            raise
        await conn.execute(f"ALTER SCHEMA {staging} RENAME TO {quote_ident(name)}")
        return {"cached": False, "events": summary.events, "applied": summary.applied,
                "seconds": round(summary.seconds, 3)}

    @staticmethod
    def _answer(status: int, name: str, project_id: str, until: datetime,
                extra: dict[str, Any]) -> Response:
        return json_response(status, {"schema": name, "project_id": project_id,
                                      "until": iso_ms(until), **extra})
