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

Builds are serialised per name by a Postgres advisory lock and go into `<name>_build`, which is
renamed only when complete: a half-built schema is never readable. Replayed schemas stay until
dropped (`core projections drop asof_…`). The API process is the composition root, which is
why this kernel module may use the projections package.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from starlette.responses import Response

from kernel.http import InvalidBody, body_fields, error, json_response, parse_body
from kernel.kafka import end_offsets
from kernel.projection_pointer import quote_ident
from kernel.routing import Call, RouteSpec
from kernel.settings import Settings
from kernel.timefmt import iso_ms
from projections.replay import Replayer, StopRule, create_projection_schema

PATH = "/api/v1/admin/replays"
PREFIX = "asof_"
SETTLE = timedelta(minutes=1)


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

    def routes(self) -> list[RouteSpec]:
        return [RouteSpec("POST", PATH, self.create, "admin")]

    async def create(self, call: Call) -> Response:
        try:
            until = parse_until(await call.request.body())
        except BadRequest as exc:
            return error(400, exc.code, message=exc.message)
        name = await self._name(call.project_id, until)
        conn = await asyncpg.connect(self.settings.resolved_database_url())
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", lock_key(name))
            if await schema_exists(conn, name):
                return self._answer(200, name, call.project_id, until, {"cached": True})
            built = await self._build(conn, name, call.project_id, until)
            return self._answer(201, name, call.project_id, until, built)
        finally:
            await conn.close()

    async def _name(self, project_id: str, until: datetime) -> str:
        if until < datetime.now(UTC) - SETTLE:
            return schema_name(project_id, until)
        ends = await end_offsets(self.settings, self.settings.events_topic)
        return schema_name(project_id, until, ends)

    async def _build(self, conn: asyncpg.Connection, name: str, project_id: str,
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
