"""Who is calling, as the sides see it: an id and the scopes it holds.

The composition root's guard authenticates the request and stores the caller here before a
handler runs; the guard without authentication (library use) stores a caller that holds
every scope. A request that no guard admitted has a caller with no scopes at all, so a
handler that reads this fails closed.

Event families map to the read scope that may see their contents: `memory.*` and
`memories.*` need `memories:read`, `claim.*` and `claims.*` need `claims:read`; anything
else only `admin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

CALLER = "core.caller"
ADMIN = "admin"
# route scope of a route any authenticated caller reaches; its handler decides what to show
AUTHENTICATED = "authenticated"
READ_SCOPE_BY_FAMILY = {"memory": "memories:read", "memories": "memories:read",
                        "claim": "claims:read", "claims": "claims:read"}


@dataclass(frozen=True)
class Caller:
    id: str
    scopes: frozenset[str]

    def holds(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes

    def may_read(self, event_type: str) -> bool:
        return self.holds(read_scope_of(event_type))


UNRESTRICTED = Caller("anonymous", frozenset({ADMIN}))
NOBODY = Caller("", frozenset())


def read_scope_of(event_type: str) -> str:
    return READ_SCOPE_BY_FAMILY.get(event_type.partition(".")[0], ADMIN)


@dataclass(frozen=True)
class StreamBinding:
    """What a stream token (`?access_token=`) was minted for: its subject filter (None = every
    subject of its project). The token's project and scopes are the caller's."""

    subject_id: str | None


STREAM_BINDING = "core.stream_binding"


def stream_binding_of(request: Request) -> StreamBinding | None:
    found = request.scope.get(STREAM_BINDING)
    return found if isinstance(found, StreamBinding) else None


def caller_of(request: Request) -> Caller:
    found = request.scope.get(CALLER)
    return found if isinstance(found, Caller) else NOBODY


def admit_caller(request: Request, caller: Caller) -> None:
    request.scope[CALLER] = caller
