"""JWT bearer tokens: HS256 with a shared secret, RS256/ES256 with a public key.

The accepted algorithms are fixed by configuration, never taken from the token, so
`alg: none` and algorithm-confusion tokens are refused. Every token needs `sub` and `exp`,
and lives at most `max_lifetime_s` (`exp - iat`, or `exp - now` without `iat`); `aud` is
checked whenever an audience is configured. A token's principal id is `jwt:<sub>`, a
namespace apart from API key ids, so no token can act as a key. `projects: ["*"]` counts
only in a token that holds the `admin` scope.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from core.auth.principal import ALL_PROJECTS, AuthError, Principal

MIN_SECRET_BYTES = 32
JWT_PREFIX = "jwt:"


@dataclass(frozen=True)
class JwtConfig:
    secret: str = ""
    public_key: str = ""
    issuer: str = ""
    audience: str = ""
    max_lifetime_s: int = 86_400

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.public_key)


def secret_problem(secret: str) -> str | None:
    """Why this HS256 secret must not be used, or None (an unset secret is fine)."""
    size = len(secret.encode())
    if 0 < size < MIN_SECRET_BYTES:
        return (f"CORE_JWT_SECRET is {size} bytes; HS256 needs at least "
                f"{MIN_SECRET_BYTES} random bytes")
    return None


def _key_and_algorithms(config: JwtConfig, token: str) -> tuple[Any, list[str]]:
    header = jwt.get_unverified_header(token)
    if header.get("alg") == "HS256" and config.secret:
        return config.secret, ["HS256"]
    if header.get("alg") in ("RS256", "ES256") and config.public_key:
        return config.public_key, [header["alg"]]
    raise AuthError("invalid_token", f"algorithm {header.get('alg')!r} is not accepted")


def _verified_claims(config: JwtConfig, token: str) -> dict[str, Any]:
    try:
        key, algorithms = _key_and_algorithms(config, token)
        claims: dict[str, Any] = jwt.decode(
            token, key, algorithms=algorithms, issuer=config.issuer or None,
            audience=config.audience or None,
            options={"require": ["exp", "sub"], "verify_aud": bool(config.audience)})
    except jwt.PyJWTError as exc:
        raise AuthError("invalid_token", str(exc)) from exc
    return claims


def principal_from_jwt(config: JwtConfig, token: str) -> Principal:
    claims = _verified_claims(config, token)
    subject = str(claims["sub"]).strip()
    if not subject:
        raise AuthError("invalid_token", "the token's sub is empty")
    _check_lifetime(config, claims)
    scopes = _scopes(claims)
    return Principal(f"{JWT_PREFIX}{subject}", _projects(claims, "admin" in scopes), scopes)


def _check_lifetime(config: JwtConfig, claims: dict[str, Any]) -> None:
    issued = claims.get("iat")
    start = issued if isinstance(issued, int | float) else time.time()
    if float(claims["exp"]) - float(start) > config.max_lifetime_s:
        raise AuthError("invalid_token",
                        f"the token lives longer than {config.max_lifetime_s} s")


def _projects(claims: dict[str, Any], admin: bool) -> frozenset[str]:
    projects = claims.get("projects")
    if isinstance(projects, list):
        named = frozenset(str(p) for p in projects)
    else:
        single = claims.get("project_id")
        named = frozenset({str(single)}) if single else frozenset()
    return named if admin else named - {ALL_PROJECTS}


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope", "")
    if isinstance(scope, list):
        return frozenset(str(s) for s in scope)
    return frozenset(str(scope).split())
