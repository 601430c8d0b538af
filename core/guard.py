"""The production request guard: credentials, project, scope, body size, Idempotency-Key.

The body of a write is read here, once, and never past `max_body_bytes` (core.body_limit);
handlers see the bytes already read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from core.auth import stream_tokens
from core.auth.authenticator import Authenticator
from core.auth.principal import AuthError, Principal
from core.body_limit import read_limited, with_body
from core.idempotency import MAX_KEY_LENGTH, Claimed, IdempotencyStore, Refused, fingerprint
from kernel.access import AUTHENTICATED, STREAM_BINDING, Caller, StreamBinding, admit_caller
from kernel.http import error, json_response, resolve_project
from kernel.routing import (
    APPENDED_EVENT,
    PRINCIPAL,
    STILL_ADMITTED,
    WRITE_METHODS,
    Call,
    RequestGuard,
    RouteSpec,
    Runner,
    not_found,
    valid_project,
)
from kernel.schema_pools import SchemaPools

AS_OF_HEADER = "x-core-as-of-schema"
AS_OF_PARAM = "as_of_schema"
ACCESS_TOKEN = "access_token"


class SecureGuard(RequestGuard):
    def __init__(self, authenticator: Authenticator, idempotency: IdempotencyStore,
                 max_body_bytes: int, pools: SchemaPools | None = None) -> None:
        self.pools = pools
        self.authenticator = authenticator
        self.idempotency = idempotency
        self.max_body_bytes = max_body_bytes

    async def admit(self, request: Request, found: tuple[RouteSpec, dict[str, str]] | None,
                    default_project: str, run: Runner) -> Response:
        token = request.query_params.get(ACCESS_TOKEN)
        if token is not None:
            return await self._admit_stream_token(request, found, token, run)
        try:
            principal = await self.authenticator.authenticate(request)
        except AuthError as exc:
            return error(401, exc.code, message=exc.message)
        project = valid_project(resolve_project(request, default_project).project_id)
        if isinstance(project, Response):
            return project
        if not principal.may_use(project):
            return error(403, "project_forbidden", project_id=project)
        if found is None:
            return not_found(request)
        route, params = found
        if route.scope != AUTHENTICATED and not principal.holds(route.scope):
            return error(403, "insufficient_scope", required_scope=route.scope)
        request.scope[PRINCIPAL] = principal.id
        request.scope[STILL_ADMITTED] = self._readmission(request, project, route.scope)
        admit_caller(request, Caller(principal.id, principal.scopes))
        call = Call(request, project, params)
        as_of = request.headers.get(AS_OF_HEADER) or request.query_params.get(AS_OF_PARAM)
        if as_of:
            return await self._as_of(run, route, call, principal, as_of)
        return await self._write_guarded(run, route, call, principal)

    async def _admit_stream_token(self, request: Request,
                                  found: tuple[RouteSpec, dict[str, str]] | None, token: str,
                                  run: Runner) -> Response:
        """`?access_token=` (core.auth.stream_tokens): only the routes marked `query_token`."""
        if found is None:
            return not_found(request)
        route, params = found
        if not route.query_token:
            return error(401, "access_token_not_accepted",
                         message="access_token is accepted only by GET /api/v1/events/memories")
        grant = await stream_tokens.resolve(self.idempotency.pool, token)
        if grant is None:
            return error(401, "invalid_token",
                         message="The stream token is unknown, expired or revoked")
        [project] = grant.principal.projects
        asked = request.headers.get("x-project-id")
        if asked is not None and asked.strip() and asked.strip() != project:
            return error(403, "project_forbidden", project_id=asked.strip())
        if not grant.principal.holds(route.scope):
            return error(403, "insufficient_scope", required_scope=route.scope)
        request.scope[PRINCIPAL] = grant.principal.id
        request.scope[STREAM_BINDING] = StreamBinding(grant.subject_id)

        async def still_admitted() -> bool:
            return await stream_tokens.resolve(self.idempotency.pool, token,
                                               expired_ok=True) is not None

        request.scope[STILL_ADMITTED] = still_admitted
        admit_caller(request, Caller(grant.principal.id, grant.principal.scopes))
        return await run(route, Call(request, project, params))

    def _readmission(self, request: Request, project: str,
                     scope: str) -> Callable[[], Awaitable[bool]]:
        async def still_admitted() -> bool:
            try:
                again = await self.authenticator.authenticate(request)
            except AuthError:
                return False
            return again.may_use(project) and (scope == AUTHENTICATED or again.holds(scope))

        return still_admitted

    async def _as_of(self, run: Runner, route: RouteSpec, call: Call, principal: Principal,
                     schema: str) -> Response:
        """Serve a read from a replayed schema ("what did CORE believe then"), admins only."""
        if not principal.holds("admin"):
            return error(403, "insufficient_scope", required_scope="admin")
        if call.request.method.upper() != "GET":
            return error(400, "read_only_schema", message="a replayed schema is read-only")
        if self.pools is None or not await self.pools.schema_exists(schema):
            return error(404, "schema_not_found", schema=schema)
        await self.pools.pool_for(schema)
        with self.pools.reading(schema):
            return await run(route, call)

    async def _write_guarded(self, run: Runner, route: RouteSpec, call: Call,
                             principal: Principal) -> Response:
        if call.request.method.upper() not in WRITE_METHODS or route.own_body:
            return await run(route, call)
        body = await read_limited(call.request, self.max_body_bytes)
        if body is None:  # and close the connection rather than drain the rest
            return json_response(413, {"error": "payload_too_large",
                                       "max_bytes": self.max_body_bytes}, {"connection": "close"})
        call = Call(with_body(call.request, body), call.project_id, call.params)
        key = call.request.headers.get("idempotency-key")
        if key is None:
            return await run(route, call)
        return await self._idempotent(run, route, call, (call.project_id, principal.id, key))

    async def _idempotent(self, run: Runner, route: RouteSpec, call: Call,
                          scope: tuple[str, str, str]) -> Response:
        key = scope[2]
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return error(400, "invalid_idempotency_key", max_length=MAX_KEY_LENGTH)
        request = call.request
        print_ = fingerprint(request.method.upper(), request.url.path, await request.body())
        begun = await self.idempotency.begin(scope, print_)
        if isinstance(begun, Refused):
            return error(begun.status, begun.code)
        if not isinstance(begun, Claimed):
            return json_response(begun.status, begun.body, {"idempotent-replayed": "true"})
        return await self._first_attempt(run, route, call, scope)

    async def _first_attempt(self, run: Runner, route: RouteSpec, call: Call,
                             scope: tuple[str, str, str]) -> Response:
        try:
            response = await run(route, call)
        except BaseException:
            await self.idempotency.release(scope)
            raise
        event_id = call.request.scope.get(APPENDED_EVENT)
        if event_id is None:
            await self.idempotency.release(scope)
            return response
        await self.idempotency.complete(scope, response.status_code, _json_body(response),
                                        event_id)
        return response


def _json_body(response: Response) -> object:
    import orjson

    return orjson.loads(bytes(response.body))
