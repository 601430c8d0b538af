"""Waits for the projector's outcome of one event: LISTEN/NOTIFY with a polling fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import orjson

from kernel.tasks import TaskSet
from schemas.outcomes import OUTCOME_CHANNEL, Outcome, read_notice

log = logging.getLogger("core.commands.outcomes")


async def fetch_outcome(pool: asyncpg.Pool, event_id: str) -> Outcome | None:
    row = await pool.fetchrow("SELECT status, body FROM command_outcomes WHERE event_id = $1",
                              event_id)
    return Outcome(row["status"], orjson.loads(row["body"])) if row else None


class OutcomeWaiter:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        self.dsn = dsn
        self.pending: dict[str, asyncio.Future[Outcome]] = {}
        self.conn: asyncpg.Connection | None = None
        self.lookups = TaskSet("outcome lookup")

    async def start(self) -> None:
        self.conn = await asyncpg.connect(self.dsn)
        await self.conn.add_listener(OUTCOME_CHANNEL, self._on_notify)

    async def stop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()

    def register(self, event_id: str) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.pending[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        self.pending.pop(event_id, None)

    async def wait(self, event_id: str, future: asyncio.Future[Outcome],
                   timeout: float) -> Outcome | None:
        """The outcome, or None when the projector has not decided within `timeout`."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return await fetch_outcome(self.pool, event_id)
        finally:
            self.forget(event_id)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event_id, outcome = read_notice(payload)
        future = self.pending.get(event_id)
        if future is None or future.done():
            return
        if outcome is not None:
            future.set_result(outcome)
        else:
            self.lookups.spawn(self._resolve_from_table(event_id, future))

    async def _resolve_from_table(self, event_id: str, future: asyncio.Future[Outcome]) -> None:
        outcome = await fetch_outcome(self.pool, event_id)
        if outcome is not None and not future.done():
            future.set_result(outcome)
