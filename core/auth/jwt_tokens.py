"""JWT bearer tokens: HS256 with a shared secret, RS256/ES256 with a public key.

The accepted algorithms are fixed by configuration, never taken from the token, so
`alg: none` and algorithm-confusion tokens are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from core.auth.principal import AuthError, Principal


@dataclass(frozen=True)
class JwtConfig:
    secret: str = ""
    public_key: str = ""
    issuer: str = ""
    audience: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.public_key)


def _key_and_algorithms(config: JwtConfig, token: str) -> tuple[Any, list[str]]:
    header = jwt.get_unverified_header(token)
    if header.get("alg") == "HS256" and config.secret:
        return config.secret, ["HS256"]
    if header.get("alg") in ("RS256", "ES256") and config.public_key:
        return config.public_key, [header["alg"]]
    raise AuthError("invalid_token", f"algorithm {header.get('alg')!r} is not accepted")


def principal_from_jwt(config: JwtConfig, token: str) -> Principal:
    try:
        key, algorithms = _key_and_algorithms(config, token)
        claims = jwt.decode(
            token, key, algorithms=algorithms, issuer=config.issuer or None,
            audience=config.audience or None,
            options={"require": ["exp"], "verify_aud": bool(config.audience)})
    except jwt.PyJWTError as exc:
        raise AuthError("invalid_token", str(exc)) from exc
    return Principal(str(claims.get("sub", "jwt")), _projects(claims), _scopes(claims))


def _projects(claims: dict[str, Any]) -> frozenset[str]:
    projects = claims.get("projects")
    if isinstance(projects, list):
        return frozenset(str(p) for p in projects)
    single = claims.get("project_id")
    return frozenset({str(single)}) if single else frozenset()


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    if isinstance(scope, list):
        return frozenset(str(s) for s in scope)
    return frozenset(str(scope).split())
