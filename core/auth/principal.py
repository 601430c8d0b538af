"""Who is calling: an identity, the projects it may use and the scopes it holds."""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("memories:read", "memories:write", "claims:read", "claims:write", "events:read",
          "subjects:forget", "admin")
ALL_PROJECTS = "*"


@dataclass(frozen=True)
class Principal:
    id: str
    projects: frozenset[str]
    scopes: frozenset[str]

    def may_use(self, project_id: str) -> bool:
        return ALL_PROJECTS in self.projects or project_id in self.projects

    def holds(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Principal("anonymous", frozenset({ALL_PROJECTS}), frozenset(SCOPES))


class AuthError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
