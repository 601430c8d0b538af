"""Stream tokens: how a browser's `EventSource` (which cannot send headers) reads the SSE route.

`POST /api/v1/events/tokens` (scope `events:read`, plus `memories:read` — and `claims:read`
with `include: "claims"` — as the stream needs) returns a random token bound to the caller,
the project, an optional subject filter and exactly the scopes the stream needs. It is
accepted only by `GET /api/v1/events/memories`, as `?access_token=`, and only until it
expires (`CORE_SSE_TOKEN_TTL_S`, default 15 minutes; a body `ttl_s` may shorten it):
long enough for `EventSource`'s automatic reconnects, which resend the same URL with
`Last-Event-ID`. Renew by asking again with the real credential and reopening the stream
with the new token (an open stream is not cut when its token expires; it is when the API
key behind it is revoked). Only a SHA-256 of the token is stored (`stream_tokens`, shared by
every API process, so a reconnect to another or a restarted process is admitted).

The token never reaches a log, a metric label or a trace: the access log and the metrics
name the route template, never the query string.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from starlette.responses import Response

from core.auth.principal import Principal
from kernel.access import caller_of
from kernel.http import InvalidBody, error, json_response
from kernel.input_limits import Invalid, checked_body, identifier
from kernel.routing import Call, Handler, RouteSpec
from kernel.timefmt import iso_ms

PREFIX = "sse_"
PATH = "/api/v1/events/tokens"
STREAM_SCOPES = ("events:read", "memories:read")
CLAIMS_READ = "claims:read"


@dataclass(frozen=True)
class StreamGrant:
    principal: Principal
    subject_id: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


RESOLVE_SQL = """
SELECT t.principal_id, t.project_id, t.subject_id, t.scopes FROM stream_tokens t
WHERE t.token_hash = $1 AND ($2 OR t.expires_at > now())
  AND (t.principal_id NOT LIKE 'key\\_%' OR EXISTS (
    SELECT 1 FROM api_keys k WHERE k.id = t.principal_id AND k.revoked_at IS NULL))
"""


async def resolve(pool: asyncpg.Pool, token: str, *, expired_ok: bool = False
                  ) -> StreamGrant | None:
    """The grant of a live token (or, for an open stream's re-check, an expired one whose
    API key is still active); None when unknown, expired or its key was revoked."""
    if not token.startswith(PREFIX):
        return None
    row = await pool.fetchrow(RESOLVE_SQL, _hash(token), expired_ok)
    if row is None:
        return None
    principal = Principal(row["principal_id"], frozenset({row["project_id"]}),
                          frozenset(row["scopes"]))
    return StreamGrant(principal, row["subject_id"])


def _ttl(body: dict[str, object], max_ttl_s: int) -> int:
    raw = body.get("ttl_s")
    if raw is None:
        return max_ttl_s
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= max_ttl_s:
        raise Invalid(400, {"error": "invalid_ttl_s", "min": 1, "max": max_ttl_s})
    return raw


def _subject(body: dict[str, object]) -> str | None:
    raw = body.get("subject_id")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Invalid(400, {"error": "invalid_subject_id"})
    return identifier(raw.strip(), "subject_id") or None


def _scopes(body: dict[str, object]) -> tuple[str, ...]:
    include = body.get("include")
    if include is None:
        return STREAM_SCOPES
    if not isinstance(include, str):
        raise Invalid(400, {"error": "invalid_include", "allowed": ["claims"]})
    wanted = {part.strip() for part in include.split(",") if part.strip()}
    return (*STREAM_SCOPES, CLAIMS_READ) if "claims" in wanted else STREAM_SCOPES


def mint_route(pool: asyncpg.Pool, max_ttl_s: int) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = checked_body(await call.request.body())
            ttl, subject, scopes = _ttl(body, max_ttl_s), _subject(body), _scopes(body)
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        caller = caller_of(call.request)
        for scope in scopes:
            if not caller.holds(scope):
                return error(403, "insufficient_scope", required_scope=scope)
        token = f"{PREFIX}{secrets.token_urlsafe(32)}"
        expires = datetime.now(UTC) + timedelta(seconds=ttl)
        await pool.execute(
            "INSERT INTO stream_tokens (token_hash, principal_id, project_id, subject_id, "
            "scopes, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            _hash(token), caller.id, call.project_id, subject, list(scopes), expires)
        await pool.execute("DELETE FROM stream_tokens WHERE expires_at < now() - interval '1 day'")
        return json_response(201, {
            "token": token, "token_type": "sse", "expires_at": iso_ms(expires),
            "expires_in": ttl, "project_id": call.project_id, "subject_id": subject,
            "scopes": list(scopes),
            "stream_url": "/api/v1/events/memories?access_token=<token>"})

    return handler


def stream_token_routes(pool: asyncpg.Pool, max_ttl_s: int) -> list[RouteSpec]:
    return [RouteSpec("POST", PATH, mint_route(pool, max_ttl_s), "events:read")]
