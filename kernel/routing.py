"""The route table and dispatcher: `/health` first, then the project, then the first match.

Starlette's router answers 405 for a known path with another method; the spec wants
404 `not_found` for anything unmatched, so dispatch is this small ordered table instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from kernel.access import UNRESTRICTED, admit_caller
from kernel.http import error, json_response, resolve_project
from kernel.ids import random_hex
from kernel.input_limits import Invalid, check_request, identifier
from kernel.timefmt import iso_ms, now_ms

log = logging.getLogger("core.api")


@dataclass(frozen=True)
class Call:
    request: Request
    project_id: str
    params: dict[str, str]


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    handler: Handler
    scope: str
    own_body: bool = False
    """The handler reads (streams) the body itself, with its own limits and Idempotency-Key
    handling (the batch routes); the guard then reads nothing."""
    query_token: bool = False
    """Also admits a stream token as `?access_token=` (the SSE route: EventSource cannot
    send headers); every other route refuses one."""
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def specificity(self) -> tuple[int, ...]:
        return tuple(1 if part.startswith("{") else 0 for part in self.path.split("/"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.match(path)
        if found is None:
            return None
        return {k: _decode_segment(v) for k, v in found.groupdict().items()}


def _decode_segment(raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return raw


def order_routes(routes: Sequence[RouteSpec]) -> list[RouteSpec]:
    """Literal segments win over parameters, which reproduces the spec's table order."""
    return sorted(routes, key=RouteSpec.specificity)


def health_body() -> dict[str, object]:
    return {"ok": True, "service": "mnexium-core", "timestamp": iso_ms(now_ms())}


PUBLIC = "public"
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
APPENDED_EVENT = "core.appended_event"
ROUTE_TEMPLATE = "core.route"  # scope keys read by core.telemetry.http
PROJECT = "core.project"
STILL_ADMITTED = "core.still_admitted"
"""Scope key of an async callable: is this request's credential still admitted? (Long-lived
responses, e.g. SSE, ask it now and then: a revoked key ends its open streams.)"""
PRINCIPAL = "core.principal"  # the caller's id, set by the guard that authenticated it
REQUEST_ID_KEY = "core.request_id"  # scope key written by core.telemetry.http


class Dispatcher:
    """health → public routes → authenticate → project → route → scope → (idempotency) → handler."""

    def __init__(self, routes: Sequence[RouteSpec], default_project: str,
                 guard: RequestGuard | None = None) -> None:
        self.routes = order_routes(routes)
        self.default_project = default_project
        self.guard = guard or RequestGuard()

    def find(self, method: str, path: str) -> tuple[RouteSpec, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    async def __call__(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except Exception as exc:  # outside a handler: authentication, the guard, the body
            return server_error(request, _error_text(exc), "", exc)

    async def _dispatch(self, request: Request) -> Response:
        keep_first_values(request.scope)
        method = request.method.upper()
        path = request.scope.get("raw_path", b"").decode(errors="replace") or request.url.path
        if method == "GET" and path == "/health":
            request.scope[ROUTE_TEMPLATE] = "/health"
            return json_response(200, health_body())
        found = self.find(method, path)
        request.scope[ROUTE_TEMPLATE] = found[0].path if found is not None else None
        if found is not None and found[0].scope == PUBLIC:
            return await self._run(found[0], Call(request, "", found[1]))
        return await self.guard.admit(request, found, self.default_project, self._run)

    async def _run(self, route: RouteSpec, call: Call) -> Response:
        call.request.scope[PROJECT] = call.project_id or None
        try:
            check_request(call.params, call.request.query_params.multi_items())
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        try:
            return await route.handler(call)
        except Exception as exc:
            return server_error(call.request, _error_text(exc), call.project_id, exc)


Runner = Callable[[RouteSpec, Call], Awaitable[Response]]


class RequestGuard:
    """Without auth configured: project resolution only (library and unit-test use)."""

    async def admit(self, request: Request, found: tuple[RouteSpec, dict[str, str]] | None,
                    default_project: str, run: Runner) -> Response:
        project = valid_project(resolve_project(request, default_project).project_id)
        if isinstance(project, Response):
            return project
        if found is None:
            return not_found(request)
        admit_caller(request, UNRESTRICTED)
        return await run(found[0], Call(request, project, found[1]))


REPEATABLE_PARAMS = frozenset({"context"})


def keep_first_values(scope: MutableMapping[str, Any]) -> None:
    """For a repeated query key the first value counts (spec §4.1); Starlette's
    `query_params.get` would return the last one. Repeatable keys keep every value."""
    raw = scope.get("query_string", b"")
    if not isinstance(raw, bytes) or b"&" not in raw:
        return
    seen: set[bytes] = set()
    kept: list[bytes] = []
    for pair in raw.split(b"&"):
        key = pair.split(b"=", 1)[0]
        if key in seen and unquote_plus(key.decode(errors="replace")) not in REPEATABLE_PARAMS:
            continue
        seen.add(key)
        kept.append(pair)
    scope["query_string"] = b"&".join(kept)


def project_required() -> Response:
    return error(400, "project_id_required",
                 message="Provide x-project-id header or configure defaultProjectId")


def valid_project(project: str | None) -> str | Response:
    """The project id, or the 400 when it is missing (§4.2) or not a valid identifier."""
    if project is None:
        return project_required()
    try:
        return identifier(project, "project_id")
    except Invalid as bad:
        return json_response(bad.status, bad.body)


def request_id_of(request: Request) -> str:
    """The request id the telemetry middleware assigned (one is made up without it)."""
    rid = request.scope.get(REQUEST_ID_KEY)
    if not isinstance(rid, str):
        rid = request.scope[REQUEST_ID_KEY] = random_hex()
    return rid


def server_error(request: Request, detail: str, project_id: str,
                 exc: BaseException | None = None) -> Response:
    """Spec §4.6 with one change: the detail goes to the log, never to the client, which
    gets the request id to quote instead (see docs/security.md)."""
    rid = request_id_of(request)
    log.error("request error %s %s project=%s request_id=%s: %s", request.method,
              request.url.path, project_id or None, rid, detail, exc_info=exc)
    return error(500, "server_error", message="internal error", request_id=rid)


def not_found(request: Request) -> Response:
    path = request.scope.get("raw_path", b"").decode(errors="replace") or request.url.path
    return error(404, "not_found", path=path, method=request.method.upper())


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "AggregateError: " + " | ".join(str(e) for e in exc.exceptions)
    if exc.__cause__ is not None:
        return f"{exc} (cause: {exc.__cause__})"
    return str(exc)
