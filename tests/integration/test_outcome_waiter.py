"""A waiting write is answered by its outcome across a Postgres restart: by polling
`command_outcomes` while the LISTEN connection is down, by notices once it is back; never by
the read at the deadline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from prometheus_client import REGISTRY

from commands.outcome_waiter import OutcomeWaiter
from kernel.db import create_pool
from schemas.outcomes import OUTCOME_CHANNEL, Outcome, outcome_notice
from tests.support.own_postgres import OwnPostgres, TcpProxy, own_postgres

pytestmark = pytest.mark.integration
TIMEOUT_S = 20.0
PATHS = ("notice", "lookup", "poll", "deadline")


@pytest.fixture(scope="module")
async def pg() -> AsyncIterator[OwnPostgres]:
    async for own in own_postgres():
        yield own


def paths() -> dict[str, float]:
    return {path: REGISTRY.get_sample_value("core_command_outcome_paths_total",
                                            {"path": path}) or 0.0 for path in PATHS}


def grown(before: dict[str, float]) -> dict[str, float]:
    return {path: n - before[path] for path, n in paths().items() if n != before[path]}


async def decide(dsn: str, event_id: str, outcome: Outcome) -> None:
    """What the projector does: store the outcome and announce it in one transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO command_outcomes (event_id, project_id, event_type, status, body, "
                "decided_at) VALUES ($1, 'p', 'memory.submitted', $2, $3, now())",
                event_id, outcome.status, orjson.dumps(outcome.body).decode())
            await conn.execute("SELECT pg_notify($1, $2)", OUTCOME_CHANNEL,
                               outcome_notice(event_id, outcome))
    finally:
        await conn.close()


async def restart(pg: OwnPostgres, waiter: OutcomeWaiter) -> None:
    pg.kill()
    await asyncio.wait_for(waiter.listener.until_down(), 10)
    await asyncio.to_thread(pg.restart)


async def started_waiter(pool: asyncpg.Pool, listen_dsn: str) -> OutcomeWaiter:
    waiter = OutcomeWaiter(pool, listen_dsn)
    await waiter.start()
    await asyncio.wait_for(waiter.listener.until_connected(), 10)
    return waiter


async def test_an_outcome_decided_while_the_listener_is_down_is_polled(pg: OwnPostgres) -> None:
    proxy = TcpProxy(pg.port)  # keeps the listener away from the restarted Postgres
    await proxy.open()
    pool = await create_pool(pg.dsn(), max_size=2)
    waiter = await started_waiter(pool, proxy.dsn())
    try:
        event_id = uuid.uuid4().hex
        waiting = asyncio.create_task(waiter.wait(event_id, waiter.register(event_id),
                                                  TIMEOUT_S))
        await proxy.cut()
        await restart(pg, waiter)
        before = paths()
        await decide(pg.dsn(), event_id, Outcome(201, {"id": event_id}))
        assert await waiting == Outcome(201, {"id": event_id})
        assert grown(before) == {"poll": 1} and not waiter.listener.connected
        await proxy.open()
        await asyncio.wait_for(waiter.listener.until_connected(), 20)
    finally:
        await waiter.stop()
        await pool.close()


async def test_after_a_restart_notices_answer_again(pg: OwnPostgres) -> None:
    pool = await create_pool(pg.dsn(), max_size=2)
    waiter = await started_waiter(pool, pg.dsn())
    try:
        await restart(pg, waiter)
        await asyncio.wait_for(waiter.listener.until_connected(), 20)
        event_id = uuid.uuid4().hex
        future = waiter.register(event_id)
        before = paths()
        await decide(pg.dsn(), event_id, Outcome(201, {"id": event_id}))
        assert await waiter.wait(event_id, future, TIMEOUT_S) == Outcome(201, {"id": event_id})
        assert grown(before) == {"notice": 1}
    finally:
        await waiter.stop()
        await pool.close()


async def test_a_wait_across_a_restart_never_waits_for_the_deadline(pg: OwnPostgres) -> None:
    """The realistic order: the write waits, Postgres dies, comes back, the projector
    decides; whichever of poll or notice answers, the deadline does not."""
    pool = await create_pool(pg.dsn(), max_size=2)
    waiter = await started_waiter(pool, pg.dsn())
    try:
        event_id = uuid.uuid4().hex
        waiting = asyncio.create_task(waiter.wait(event_id, waiter.register(event_id),
                                                  TIMEOUT_S))
        await restart(pg, waiter)
        before = paths()
        await decide(pg.dsn(), event_id, Outcome(201, {"id": event_id}))
        assert await waiting == Outcome(201, {"id": event_id})
        assert sum(grown(before).values()) == 1 and "deadline" not in grown(before)
    finally:
        await waiter.stop()
        await pool.close()
