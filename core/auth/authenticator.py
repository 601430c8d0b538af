"""Resolves the caller from `Authorization: Bearer …` or `x-api-key`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from core.auth.api_keys import PREFIX
from core.auth.jwt_tokens import JwtConfig, principal_from_jwt
from core.auth.principal import ANONYMOUS, AuthError, Principal

KeyLookup = Callable[[str], Awaitable[Principal | None]]


class Authenticator:
    def __init__(self, key_lookup: KeyLookup, jwt_config: JwtConfig, *,
                 required: bool) -> None:
        self.key_lookup = key_lookup
        self.jwt_config = jwt_config
        self.required = required

    async def authenticate(self, request: Request) -> Principal:
        if not self.required:
            return ANONYMOUS
        token = _credential(request)
        if token is None:
            raise AuthError("unauthorized", "Provide Authorization: Bearer <token> or x-api-key")
        if token.startswith(PREFIX):
            principal = await self.key_lookup(token)
            if principal is None:
                raise AuthError("invalid_api_key", "The API key is unknown or revoked")
            return principal
        if not self.jwt_config.enabled:
            raise AuthError("invalid_token", "JWT authentication is not configured")
        return principal_from_jwt(self.jwt_config, token)


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None
