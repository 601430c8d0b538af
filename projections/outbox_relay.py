"""Relays the outbox to the changes topic, in outbox order, and parked dead letters to the
DLQ topic, at least once.

One relay holds a Postgres advisory lock at a time, so with several workers the changes
still leave in commit order. A crash between produce and delete re-sends those rows;
consumers de-duplicate by `change_id`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from kernel.kafka import subject_key
from kernel.metrics import OUTBOX_RELAY_UP
from kernel.shredding import KeyRing
from kernel.tasks import drain_when_woken
from kernel.telemetry import tracing
from schemas.subject_events import UNSEALED

RELAY_LOCK = 0x52454C41  # "RELA"
log = logging.getLogger("core.projections.relay")


def change_record(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "change_id": row["change_id"], "type": row["type"], "project_id": row["project_id"],
        "subject_id": row["subject_id"], "occurred_at": row["occurred_at"].isoformat(),
        "source_event_id": row["source_event_id"], "payload": row["payload"],
    }


def change_message(row: asyncpg.Record) -> bytes:
    return orjson.dumps(change_record(row))


def dead_letter_headers(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    origin = [row["origin_topic"], row["origin_partition"], row["origin_offset"]]
    return [("reason", row["reason"].encode()), ("origin", orjson.dumps(origin))]


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str,
                 dlq_topic: str | None = None, keyring: KeyRing | None = None) -> None:
        self.pool = pool
        self.seal = keyring.sealer(pool) if keyring is not None else None
        self.producer = producer
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.wakeup = asyncio.Event()
        self._announced: tuple[bool, bool] | None = None
        """What the last wake announced (changes, dead letters), so the drain it starts
        skips the look: a projector batch only wakes the relay after committing rows."""
        self.up: bool | None = None
        """This relay's last state (the gauge is per process, shared by every relay in it)."""

    def wake(self, changes: bool = True, dead_letters: bool = True) -> None:
        held = self._announced or (False, False)
        self._announced = (held[0] or changes, held[1] or dead_letters)
        self.wakeup.set()

    async def run(self, idle_poll_s: float = 0.5, max_backoff_s: float = 5.0) -> None:
        """Relay until cancelled. Any failure (Postgres, Kafka, anything else) is logged,
        shown by `core_outbox_relay_up`, and retried with bounded backoff: the rows stay in
        the outbox until a produce succeeded."""
        await drain_when_woken("outbox relay", self.relay_all, self.wakeup,
                               idle_poll_s=idle_poll_s, max_backoff_s=max_backoff_s,
                               healthy=self._healthy)

    def _healthy(self, ok: bool) -> None:
        self.up = ok
        OUTBOX_RELAY_UP.set(1 if ok else 0)

    async def relay_all(self, limit: int = 1000) -> None:
        """Until both outboxes are empty. A wake that arrives meanwhile is kept by
        `drain_when_woken`, so the last short batch needs no look back."""
        announced, self._announced = self._announced, None
        while True:
            changes, letters = announced or await self._pending()
            announced = None
            if not (changes or letters):
                return
            if await self.relay_once(limit, dead_letters=letters) < limit:
                return

    async def _pending(self) -> tuple[bool, bool]:
        """One cheap read before taking the lock in a transaction: an idle poll costs a
        single round trip, and an empty dead-letter outbox none."""
        row = await self.pool.fetchrow(
            "SELECT EXISTS (SELECT 1 FROM outbox), EXISTS (SELECT 1 FROM dead_letter_outbox)")
        assert row is not None
        return bool(row[0]), bool(row[1])

    async def relay_once(self, limit: int = 1000, dead_letters: bool = True) -> int:
        """Relays up to `limit` changes (and dead letters), deleted in the transaction that
        waits for their produce: a failure rolls the delete back, the rows stay."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", RELAY_LOCK):
                return 0
            rows = sorted(await conn.fetch(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1) "
                "RETURNING *", limit), key=lambda r: r["id"])
            await self._produce(rows)
            relayed = len(rows)
            if dead_letters:
                relayed += await self._relay_dead_letters(conn, limit)
            return relayed

    async def _relay_dead_letters(self, conn: asyncpg.Connection, limit: int) -> int:
        if self.dlq_topic is None:
            return 0
        rows = sorted(await conn.fetch(
            "DELETE FROM dead_letter_outbox WHERE id IN (SELECT id FROM dead_letter_outbox "
            "ORDER BY id LIMIT $1) RETURNING *", limit), key=lambda r: r["id"])
        sends = [await self.producer.send(self.dlq_topic, r["record_value"], key=r["record_key"],
                                          headers=dead_letter_headers(r)) for r in rows]
        await asyncio.gather(*sends)
        return len(rows)

    async def _message(self, row: asyncpg.Record) -> bytes:
        """The change, its payload sealed with its subject's key when there is a master key."""
        if self.seal is None or row["type"] in UNSEALED:
            return change_message(row)
        return orjson.dumps(await self.seal(change_record(row), "change_id"))

    async def _produce(self, rows: list[asyncpg.Record]) -> None:
        if not rows:
            return
        with tracing.relay_span(self.topic, [r.get("trace_context") for r in rows]) as trace:
            sends = [
                await self.producer.send(
                    self.topic, await self._message(r),
                    key=subject_key(r["project_id"], r["subject_id"]),
                    headers=[("type", r["type"].encode()), ("change_id", r["change_id"].encode()),
                             *trace])
                for r in rows
            ]
            await asyncio.gather(*sends)
