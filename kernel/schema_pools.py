"""Read pools per projection schema: the live one follows the projection pointer, and an
admin may read a replayed schema ("as of" a past moment) for one request."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

from kernel.db import create_pool
from kernel.listener import Listener
from kernel.projection_pointer import CHANNEL, active_schema
from kernel.tasks import TaskSet

MAX_AS_OF_POOLS = 4
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_override: contextvars.ContextVar[str | None] = contextvars.ContextVar("core_schema", default=None)


class SchemaPools:
    def __init__(self, dsn: str, max_size: int) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self.live = "public"
        self.pools: dict[str, asyncpg.Pool] = {}
        self.listener = Listener("projection-pointer", dsn, {CHANNEL: self._on_switch},
                                 on_reconnect=self._catch_up)
        self.background = TaskSet("schema pools")

    async def start(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            self.live = await _pointed_schema(conn)
        finally:
            await conn.close()
        await self.pool_for(self.live)
        self.listener.start()

    async def pool_for(self, schema: str) -> asyncpg.Pool:
        if schema in self.pools:
            self.pools[schema] = self.pools.pop(schema)  # most recently used last
            return self.pools[schema]
        size = self.max_size if schema == self.live else 2
        self.pools[schema] = await create_pool(self.dsn, max_size=size, search_path=schema)
        self._evict()
        return self.pools[schema]

    def _evict(self) -> None:
        """Keep at most MAX_AS_OF_POOLS pools of replayed schemas; close the least recent
        (close() waits for connections still in use)."""
        as_of = [name for name in self.pools if name != self.live]
        for name in as_of[:-MAX_AS_OF_POOLS] if len(as_of) > MAX_AS_OF_POOLS else []:
            self.background.spawn(self.pools.pop(name).close())

    def current(self) -> asyncpg.Pool:
        return self.pools[_override.get() or self.live]

    def _on_switch(self, schema: str) -> None:
        self.background.spawn(self._switch(schema))

    async def _switch(self, schema: str) -> None:
        await self.pool_for(schema)
        self.live = schema

    async def _catch_up(self) -> None:
        """After each (re)connection of the listener: a switch announced while it was down
        would otherwise be missed."""
        async with self.pools[self.live].acquire() as conn:
            schema = await _pointed_schema(conn)
        if schema != self.live:
            await self._switch(schema)

    async def schema_exists(self, schema: str) -> bool:
        if not SCHEMA_NAME.match(schema):
            return False
        pool = self.pools[self.live]
        return bool(await pool.fetchval(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_name = 'memories'", schema))

    @contextmanager
    def reading(self, schema: str) -> Iterator[None]:
        token = _override.set(schema)
        try:
            yield
        finally:
            _override.reset(token)

    async def close(self) -> None:
        await self.listener.stop()
        await self.background.cancel()
        for pool in self.pools.values():
            await pool.close()


async def _pointed_schema(conn: asyncpg.Connection) -> str:
    if await conn.fetchval("SELECT to_regclass('public.projection_pointer')"):
        return await active_schema(conn)
    return "public"


class PoolProxy:
    """Looks like an asyncpg pool; each call goes to the pool of the schema in effect."""

    def __init__(self, pools: SchemaPools) -> None:
        self._pools = pools

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pools.current(), name)
