"""Builds the request guard of an API process from settings (auth mode, JWT, idempotency)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from core.auth.authenticator import Authenticator
from core.auth.jwt_tokens import JwtConfig, secret_problem
from core.auth.key_cache import KeyCache
from core.guard import SecureGuard
from core.idempotency import IdempotencyStore
from kernel.schema_pools import SchemaPools
from kernel.settings import Settings
from kernel.tasks import SupervisedTask

log = logging.getLogger("core.security")
PURGE_EVERY_S = 600


def build_guard(settings: Settings, pool: asyncpg.Pool, pools: SchemaPools,
                keys: KeyCache) -> tuple[SecureGuard, SupervisedTask]:
    required = settings.auth.strip().lower() != "disabled"
    if not required:
        log.warning("!!! CORE_AUTH=disabled: every route is open to anyone who can reach "
                    "this port, with every scope on every project. Never run this in production.")
    jwt_config = jwt_config_from(settings)
    lease = settings.command_timeout_ms / 1000 + 5
    store = IdempotencyStore(pool, lease_s=lease, wait_s=lease)
    guard = SecureGuard(Authenticator(keys.principal, jwt_config, required=required), store,
                        settings.max_body_bytes, pools)
    async def purge() -> None:
        await _purge_forever(store, settings.idempotency_ttl_s)

    return guard, SupervisedTask("idempotency-purge", purge).start()


def jwt_config_from(settings: Settings) -> JwtConfig:
    """The JWT configuration; a too-short HS256 secret is refused (ValueError)."""
    problem = secret_problem(settings.jwt_secret)
    if problem is not None:
        raise ValueError(problem)
    return JwtConfig(settings.jwt_secret, settings.jwt_public_key, settings.jwt_issuer,
                     settings.jwt_audience, settings.jwt_max_lifetime_s)


async def _purge_forever(store: IdempotencyStore, ttl_s: int) -> None:
    while True:
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            purged = await store.purge(ttl_s)
            if purged:
                log.info("purged %d expired idempotency keys", purged)
        await asyncio.sleep(PURGE_EVERY_S)
