"""`queries.read_gate.GatedPool`: no more than its limit of read queries at once, in order."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import asyncpg
import pytest

from queries.read_gate import GatedPool

pytestmark = pytest.mark.unit


class HeldPool:
    """A pool whose queries stay in flight until released; it counts them."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.started: list[str] = []
        self.release = asyncio.Event()
        self.changed = asyncio.Condition()

    async def _query(self, query: str) -> str:
        async with self.changed:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.started.append(query)
            self.changed.notify_all()
        await self.release.wait()
        self.in_flight -= 1
        return query

    async def fetch(self, query: str, *_args: Any) -> list[str]:
        return [await self._query(query)]

    async def fetchrow(self, query: str, *_args: Any) -> str:
        return await self._query(query)

    async def fetchval(self, query: str, *_args: Any) -> str:
        return await self._query(query)

    def acquire(self) -> HeldConnection:
        return HeldConnection(self)


class HeldConnection:
    def __init__(self, pool: HeldPool) -> None:
        self.pool = pool

    async def __aenter__(self) -> HeldPool:
        await self.pool._query("acquire")
        return self.pool

    async def __aexit__(self, *_exc: object) -> None:
        return None


async def test_at_most_the_limit_runs_and_the_rest_go_in_order() -> None:
    held = HeldPool()
    gated = GatedPool(cast(asyncpg.Pool, held), 2)

    async def through_connection() -> str:
        async with gated.acquire() as conn:
            return cast(str, conn.started[-1])

    calls = [gated.fetch("q0"), gated.fetchrow("q1"), gated.fetchval("q2"),
             gated.fetch("q3"), through_connection()]
    tasks = [asyncio.ensure_future(c) for c in calls]
    async with held.changed:
        await held.changed.wait_for(lambda: held.in_flight >= 2)
    assert held.started == ["q0", "q1"]
    assert not any(t.done() for t in tasks)
    held.release.set()
    results = await asyncio.gather(*tasks)
    assert held.most == 2
    assert held.started == ["q0", "q1", "q2", "q3", "acquire"]
    assert results[:3] == [["q0"], "q1", "q2"]


async def test_other_pool_attributes_pass_through() -> None:
    class Sized:
        def get_size(self) -> int:
            return 7

    assert GatedPool(cast(asyncpg.Pool, Sized()), 1).get_size() == 7
