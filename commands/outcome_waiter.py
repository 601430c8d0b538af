"""Waits for the projector's outcome of one event.

Notices on `OUTCOME_CHANNEL` answer waiting writes while the LISTEN connection is up. While it
is down (Postgres restarting) notices are lost, so the pending event ids are read from
`command_outcomes` in one query every `POLL_S`, and once more right after it is back; with
the listener up nothing polls. At the timeout the table is read once (`deadline`).
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import orjson

from kernel.listener import Listener
from kernel.metrics import COMMAND_OUTCOME_PATHS
from kernel.tasks import SupervisedTask, TaskSet
from schemas.outcomes import OUTCOME_CHANNEL, Outcome, read_notice

log = logging.getLogger("core.commands.outcomes")
POLL_S = 0.15
DB_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


async def fetch_outcome(pool: asyncpg.Pool, event_id: str) -> Outcome | None:
    row = await pool.fetchrow("SELECT status, body FROM command_outcomes WHERE event_id = $1",
                              event_id)
    return Outcome(row["status"], orjson.loads(row["body"])) if row else None


class OutcomeWaiter:
    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self.pool = pool
        self.pending: dict[str, asyncio.Future[Outcome]] = {}
        self.listener = Listener("outcomes", dsn, {OUTCOME_CHANNEL: self._on_notify},
                                 on_reconnect=self._read_pending)
        self.poller = SupervisedTask("outcome-poller", self._poll_while_down)
        self.lookups = TaskSet("outcome lookup")

    async def start(self) -> None:
        self.listener.start()
        self.poller.start()

    async def stop(self) -> None:
        await self.poller.stop()
        await self.listener.stop()
        await self.lookups.cancel()

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
            COMMAND_OUTCOME_PATHS.labels("deadline").inc()
            return await self._fetch_at_deadline(event_id)
        finally:
            self.forget(event_id)

    async def _fetch_at_deadline(self, event_id: str) -> Outcome | None:
        try:
            return await fetch_outcome(self.pool, event_id)
        except DB_DOWN:
            log.warning("outcome of %s unreadable at the deadline; answering 202", event_id)
            return None

    def _resolve(self, event_id: str, outcome: Outcome, path: str) -> None:
        future = self.pending.get(event_id)
        if future is not None and not future.done():
            future.set_result(outcome)
            COMMAND_OUTCOME_PATHS.labels(path).inc()

    def _on_notify(self, payload: str) -> None:
        for event_id, outcome in read_notice(payload):
            if outcome is not None:
                self._resolve(event_id, outcome, "notice")
            elif event_id in self.pending:
                self.lookups.spawn(self._look_up(event_id))

    async def _look_up(self, event_id: str) -> None:
        outcome = await fetch_outcome(self.pool, event_id)
        if outcome is not None:
            self._resolve(event_id, outcome, "lookup")

    async def _read_pending(self) -> None:
        """One query for every pending event id; found outcomes resolve their waits."""
        ids = [event_id for event_id, future in self.pending.items() if not future.done()]
        if not ids:
            return
        rows = await self.pool.fetch(
            "SELECT event_id, status, body FROM command_outcomes WHERE event_id = ANY($1)", ids)
        for row in rows:
            self._resolve(row["event_id"], Outcome(row["status"], orjson.loads(row["body"])),
                          "poll")

    async def _poll_while_down(self) -> None:
        while True:
            await self.listener.until_down()
            try:
                await self._read_pending()
            except DB_DOWN as error:
                log.debug("polling outcomes failed (%s); retrying", error)
            await asyncio.sleep(POLL_S)
