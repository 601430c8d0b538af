"""LISTEN connections come back: after Postgres is killed and restarted, after a backend stops
answering; the schema pools catch up on a pointer switch they could not hear."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.listener import Listener
from kernel.projection_pointer import CHANNEL
from kernel.schema_pools import SchemaPools
from tests.support.own_postgres import OwnPostgres, own_postgres
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
CHANNEL_UNDER_TEST = "core_test_listener"


@pytest.fixture(scope="module")
async def pg() -> AsyncIterator[OwnPostgres]:
    async for own in own_postgres():
        yield own


async def notify(dsn: str, channel: str, payload: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
    finally:
        await conn.close()


async def test_the_listener_comes_back_after_postgres_is_killed(pg: OwnPostgres) -> None:
    received: list[str] = []
    connects: list[int] = []

    async def on_reconnect() -> None:
        connects.append(1)

    listener = Listener("test-restart", pg.dsn(), {CHANNEL_UNDER_TEST: received.append},
                        on_reconnect=on_reconnect)
    listener.start()
    try:
        await asyncio.wait_for(listener.until_connected(), 10)
        pg.kill()
        await asyncio.wait_for(listener.until_down(), 10)
        assert not listener.connected
        await asyncio.to_thread(pg.restart)
        await asyncio.wait_for(listener.until_connected(), 20)
        assert listener.connections == 2 and len(connects) == 2
        await notify(pg.dsn(), CHANNEL_UNDER_TEST, "after the restart")
        await wait_until(lambda: received == ["after the restart"], "the notice", timeout=10)
    finally:
        await listener.stop()


async def backend_pid(dsn: str, application: str) -> int | None:
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("SELECT pid FROM pg_stat_activity WHERE application_name = $1",
                                  application)
        return int(pid) if pid is not None else None
    finally:
        await conn.close()


async def test_a_backend_that_stops_answering_is_replaced(pg: OwnPostgres) -> None:
    listener = Listener("test-frozen", pg.dsn(), {CHANNEL_UNDER_TEST: lambda _p: None},
                        check_every_s=0.5)
    listener.start()
    frozen = None
    try:
        await asyncio.wait_for(listener.until_connected(), 10)
        frozen = await backend_pid(pg.dsn(), listener.application)
        assert frozen is not None
        os.kill(frozen, signal.SIGSTOP)  # the socket stays open: only the check can tell
        await asyncio.wait_for(listener.until_down(), 10)
        await asyncio.wait_for(listener.until_connected(), 10)
        assert listener.connections == 2
    finally:
        if frozen is not None:
            os.kill(frozen, signal.SIGCONT)
        await listener.stop()


async def point_to(dsn: str, schema: str, *, announce: bool) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(
            "INSERT INTO public.projection_pointer (singleton, schema_name) VALUES (true, $1) "
            "ON CONFLICT (singleton) DO UPDATE SET schema_name = $1", schema)
        if announce:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, schema)
    finally:
        await conn.close()


async def test_schema_pools_follow_switches_across_a_restart(pg: OwnPostgres) -> None:
    pools = SchemaPools(pg.dsn(), 2)
    await pools.start()
    try:
        await asyncio.wait_for(pools.listener.until_connected(), 10)
        pg.kill()
        await asyncio.wait_for(pools.listener.until_down(), 10)
        await asyncio.to_thread(pg.restart)
        await asyncio.wait_for(pools.listener.until_connected(), 20)
        await point_to(pg.dsn(), "rebuilt_a", announce=True)
        await wait_until(lambda: pools.live == "rebuilt_a", "the announced switch", timeout=10)

        await pools.listener.stop()  # a switch nobody hears, as while Postgres restarts
        await point_to(pg.dsn(), "rebuilt_b", announce=True)
        assert pools.live == "rebuilt_a"
        pools.listener.start()
        await wait_until(lambda: pools.live == "rebuilt_b", "the caught-up switch", timeout=10)
    finally:
        await point_to(pg.dsn(), "public", announce=False)
        await pools.close()
