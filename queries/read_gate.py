"""At most N read queries of this process in Postgres at once; the others wait here, in order.

With eight list clients on a two-core machine, eight backends were runnable at once beside
the API and the clients: each backend waited ~1.7 ms per run-queue turn and a request
that met a few such turns took ten times the median (p95 36 ms, p50 3 ms). Queueing the
excess in the API, first come first served, keeps the run queue short; the reads still
overlap up to N round trips. Writes do not pass here: they keep the whole pool.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg


class GatedPool:
    """The read routes' view of the pool: `fetch`, `fetchrow`, `fetchval` and `acquire`
    hold one of `limit` slots for as long as they use a connection."""

    def __init__(self, pool: asyncpg.Pool, limit: int) -> None:
        self._pool = pool
        self._slots = asyncio.Semaphore(limit)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[asyncpg.Record]:
        async with self._slots:
            rows: list[asyncpg.Record] = await self._pool.fetch(query, *args, **kwargs)
        return rows

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> asyncpg.Record | None:
        async with self._slots:
            return await self._pool.fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        async with self._slots:
            return await self._pool.fetchval(query, *args, **kwargs)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._slots, self._pool.acquire() as conn:
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
