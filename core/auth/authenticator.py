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
        return await self.authenticate_token(_credential(request))

    async def authenticate_token(self, token: str | None) -> Principal:
        """The principal of an API key or JWT (also a Kafka command's credential header)."""
        if not self.required:
            return ANONYMOUS
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
    return credential_of(request.headers.get("authorization", ""),
                         request.headers.get("x-api-key", ""))


def credential_of(authorization: str, api_key: str) -> str | None:
    """`Authorization: Bearer <token>` first, else `x-api-key`."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return api_key.strip() or None
