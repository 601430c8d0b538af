"""API key lookups cached per process, cleared by Postgres the moment a key changes.

A trigger (migration 0018) NOTIFYs `core_api_keys` when a key is revoked, deleted or has its
scopes or projects changed; every API process LISTENs and drops its whole cache on a notice,
so a revocation reaches every process within the notice's delivery (milliseconds), as it
did when every request read the table. While the LISTEN connection is down notices are
lost, so lookups go to the table uncached until it is back (and the cache starts empty).
A lookup racing a notice is not cached (the generation moved). An entry lives at most
`ttl_s`, which is also how often `last_used_at` is refreshed (`principal_for_key`).
Unknown keys are never cached.
"""

from __future__ import annotations

import time

import asyncpg

from core.auth.api_keys import hash_key, principal_for_key
from core.auth.principal import Principal
from kernel.notified_cache import NotifiedCache

KEYS_CHANNEL = "core_api_keys"
MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(self, pool: asyncpg.Pool, dsn: str, ttl_s: float = 60.0) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self.cache: NotifiedCache[str, tuple[Principal, float]] = NotifiedCache(
            "api-keys", dsn, KEYS_CHANNEL, MAX_ENTRIES)

    def start(self) -> None:
        self.cache.start()

    async def stop(self) -> None:
        await self.cache.stop()

    async def principal(self, key: str) -> Principal | None:
        if not self.cache.usable:
            return await principal_for_key(self.pool, key)
        digest, now = hash_key(key), time.monotonic()
        hit = self.cache.get(digest)
        if hit is not None and now - hit[1] < self.ttl_s:
            return hit[0]
        since = self.cache.generation
        found = await principal_for_key(self.pool, key)
        if found is not None:
            self.cache.put(digest, (found, now), since)
        return found
