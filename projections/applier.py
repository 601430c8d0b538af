"""Applies a batch of `core.events` records in one transaction, exactly once per offset.

Ordering key: project + subject (one partition holds every event of a subject, in order).
Idempotency: `projection_offsets` stores each partition's next offset in the same
transaction as the rows; a record below it is skipped. A second event carrying the same
project + idempotency key as an earlier one gets the earlier outcome and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import orjson

from kernel.projection_pointer import follow_pointer, search_path
from projections.runs import Batcher, PendingRun
from projections.timeline import TimelineRow, store_timeline, timeline_row
from projections.unit_of_work import Change, EventTx, Handler, Position
from schemas.decoding import DecodeError, decode_event
from schemas.envelope import EventEnvelope
from schemas.outcomes import OUTCOME_CHANNEL, Outcome, outcome_notice

log = logging.getLogger("core.projections")
TRANSIENT = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError,
             asyncpg.SerializationError, asyncpg.DeadlockDetectedError,
             asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class DeadLetter:
    record: Record
    reason: str


@dataclass
class BatchResult:
    applied: int = 0
    skipped: int = 0
    changes: list[Change] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outcomes: list[tuple[EventEnvelope, Outcome]] = field(default_factory=list)
    replayed: set[str] = field(default_factory=set)
    timeline: list[TimelineRow] = field(default_factory=list)
    guarded: bool = True

    def outcome_for_key(self, project_id: str, key: str) -> Outcome | None:
        for event, outcome in self.outcomes:
            if event.project_id == project_id and scoped_key(event) == key \
                    and event.event_id not in self.replayed:
                return outcome
        return None


@dataclass
class Applier:
    pool: asyncpg.Pool
    consumer: str
    handlers: Mapping[str, Handler]
    emit_changes: bool = True
    notify_outcomes: bool = True
    schema: str | None = None
    accept: Callable[[EventEnvelope], bool] = lambda _event: True
    batchers: Mapping[str, Batcher] = field(default_factory=dict)

    async def apply(self, records: Sequence[Record]) -> BatchResult:
        """Apply with bounded-backoff retries on transient database errors; never raises them."""
        delay = 0.1
        while True:
            try:
                return await self._apply_once(records)
            except TRANSIENT as exc:
                log.warning("projector transient error, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _apply_once(self, records: Sequence[Record]) -> BatchResult:
        """The whole batch without savepoints first; if any event fails, the transaction is
        rolled back and the batch runs again with one savepoint per event, so a failing
        event still gets its 500 outcome or dead letter and the others still apply."""
        try:
            return await self._apply_batch(records, guarded=False)
        except TRANSIENT:
            raise
        except Exception as exc:
            log.info("batch of %d failed without savepoints (%r); re-running it guarded",
                     len(records), exc)
            return await self._apply_batch(records, guarded=True)

    async def _apply_batch(self, records: Sequence[Record], guarded: bool) -> BatchResult:
        result = BatchResult(guarded=guarded)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL core.projector = 'on'")
            await self._enter_schema(conn)
            next_offsets = await self._load_offsets(conn, records)
            run = PendingRun(self.batchers if not guarded else {})
            for record in records:
                tp = (record.topic, record.partition)
                if record.offset < next_offsets.get(tp, 0):
                    result.skipped += 1
                    continue
                await self._apply_record(conn, record, result, run)
                next_offsets[tp] = record.offset + 1
            await self._flush(run, result)
            await self._store_offsets(conn, next_offsets)
            await self._store_changes(conn, result.changes)
            await self._store_outcomes(conn, result)
            await store_timeline(conn, result.timeline)
        return result

    async def _enter_schema(self, conn: asyncpg.Connection) -> None:
        if self.schema is None:
            await follow_pointer(conn)
        else:
            await conn.execute(f"SET LOCAL search_path TO {search_path(self.schema)}")

    async def _apply_record(self, conn: asyncpg.Connection, record: Record,
                            result: BatchResult, run: PendingRun) -> None:
        try:
            event = decode_event(record.value)
        except DecodeError as exc:
            result.dead_letters.append(DeadLetter(record, str(exc)))
            return
        if not self.accept(event):
            result.skipped += 1
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            result.dead_letters.append(DeadLetter(record, f"no projector for {event.type}"))
            return
        tx = EventTx(conn, event, Position(record.topic, record.partition, record.offset))
        if run.take(tx):
            return
        await self._flush(run, result)
        self._applied(result, tx, await self._run_handler(conn, handler, tx, result, record))

    async def _flush(self, run: PendingRun, result: BatchResult) -> None:
        """Applies the held-back run, before anything after it in the log."""
        for tx, outcome in await run.flush():
            result.changes.extend(tx.changes)
            self._applied(result, tx, outcome)

    @staticmethod
    def _applied(result: BatchResult, tx: EventTx, outcome: Outcome | None) -> None:
        result.applied += 1
        result.timeline.append(timeline_row(tx.event, tx.position, outcome))
        if outcome is not None:
            result.outcomes.append((tx.event, outcome))

    async def _run_handler(self, conn: asyncpg.Connection, handler: Handler, tx: EventTx,
                           result: BatchResult, record: Record) -> Outcome | None:
        previous = await self._idempotent_outcome(conn, tx.event, result)
        if previous is not None:
            result.replayed.add(tx.event.event_id)
            return previous
        if not result.guarded:  # any error aborts the batch, which then runs guarded
            outcome = await handler(tx)
            result.changes.extend(tx.changes)
            return outcome
        try:
            async with conn.transaction():
                outcome = await handler(tx)
        except TRANSIENT:
            raise
        except asyncpg.PostgresError as exc:
            log.error("event %s (%s) rejected by the database: %s", tx.event.event_id,
                      tx.event.type, exc)
            return Outcome(500, {"error": "server_error", "message": str(exc)})
        except Exception as exc:  # a projector bug: park the event, keep the partition moving
            log.exception("projector failed on %s (%s)", tx.event.event_id, tx.event.type)
            result.dead_letters.append(DeadLetter(record, f"projector error: {exc!r}"))
            return Outcome(500, {"error": "server_error", "message": "projector error"})
        result.changes.extend(tx.changes)
        return outcome

    async def _idempotent_outcome(self, conn: asyncpg.Connection, event: EventEnvelope,
                                  result: BatchResult) -> Outcome | None:
        key = scoped_key(event)
        if key is None:
            return None
        in_batch = result.outcome_for_key(event.project_id, key)
        if in_batch is not None:
            return in_batch
        row = await conn.fetchrow(
            "SELECT status, body FROM command_outcomes WHERE project_id = $1 "
            "AND idempotency_key = $2", event.project_id, scoped_key(event))
        return Outcome(row["status"], orjson.loads(row["body"])) if row else None

    async def _load_offsets(self, conn: asyncpg.Connection,
                            records: Sequence[Record]) -> dict[tuple[str, int], int]:
        partitions = sorted({(r.topic, r.partition) for r in records})
        rows = await conn.fetch(
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE consumer = $1 "
            "AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) FOR UPDATE",
            self.consumer, [t for t, _ in partitions], [p for _, p in partitions])
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def _store_offsets(self, conn: asyncpg.Connection,
                             offsets: dict[tuple[str, int], int]) -> None:
        await conn.executemany(
            "INSERT INTO projection_offsets (consumer, topic, partition, next_offset, updated_at) "
            "VALUES ($1, $2, $3, $4, now()) ON CONFLICT (consumer, topic, partition) DO UPDATE "
            "SET next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset), "
            "updated_at = now()",
            [(self.consumer, t, p, o) for (t, p), o in offsets.items()])

    async def _store_changes(self, conn: asyncpg.Connection, changes: list[Change]) -> None:
        if not self.emit_changes or not changes:
            return
        await conn.executemany(
            "INSERT INTO outbox (change_id, project_id, subject_id, type, payload, "
            "source_event_id, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (change_id) DO NOTHING",
            [(c.change_id, c.project_id, c.subject_id, c.type, c.payload, c.source_event_id,
              c.occurred_at) for c in changes])

    async def _store_outcomes(self, conn: asyncpg.Connection, result: BatchResult) -> None:
        outcomes = result.outcomes
        if not outcomes:
            return
        await conn.executemany(
            "INSERT INTO command_outcomes (event_id, project_id, event_type, status, body, "
            "idempotency_key, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT DO NOTHING",
            [(e.event_id, e.project_id, e.type, o.status, orjson.dumps(o.body).decode(),
              None if e.event_id in result.replayed else scoped_key(e),
              e.occurred_at) for e, o in outcomes])
        if not self.notify_outcomes:
            return
        await conn.executemany("SELECT pg_notify($1, $2)",
                               [(OUTCOME_CHANNEL, outcome_notice(e.event_id, o))
                                for e, o in outcomes])


def scoped_key(event: EventEnvelope) -> str | None:
    """Idempotency keys are scoped by principal: one key of two callers is two keys."""
    if not event.idempotency_key:
        return None
    return f"{event.actor}\x1f{event.idempotency_key}"

