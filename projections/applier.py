"""Applies a batch of `core.events` records in one transaction, exactly once per offset.

Ordering key: project + subject (one partition holds every event of a subject, in order).
Position: `projection_offsets` holds each partition's next offset, row-locked and advanced in
the same transaction as the rows; it is the only position that counts. A record below it is
skipped; a record above it is a gap (`OffsetGap`): the transaction rolls back and the caller
reads the missing records from the log — nothing is ever skipped. A second event carrying
the same project + idempotency key as an earlier one gets the earlier outcome and changes
nothing — if the two events' `occurred_at` lie less than `idempotency_ttl_s` apart (the
API's `CORE_IDEMPOTENCY_TTL_S`, after which it forgets the key too): a key reused later is
a new request and applies. The window is symmetric and read from the events, never a
clock, so a replay that meets the two events in another order decides the same way.

No exception of an event leaves the applier: a batch runs without savepoints first; if
anything fails, it runs again with one savepoint per event around everything that event
writes (rows, changes, outcome, timeline). An event that still fails is parked as a dead
letter in the same transaction, with a 500 outcome when it was a command, and the partition
carries on. Transient database errors are retried with bounded backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import orjson
from pydantic import BaseModel

from kernel.projection_pointer import enter_schema, follow_pointer
from kernel.shredding import KeyRing
from projections.batch_writes import (
    DeadLetter,
    Record,
    TopicPartition,
    lock_positions,
    store_changes,
    store_dead_letters,
    store_outcomes,
    store_positions,
)
from projections.runs import Batcher, PendingRun
from projections.subjects import store_subjects
from projections.timeline import TimelineRow, store_timeline, timeline_row
from projections.unit_of_work import Change, EventTx, Handler, Position
from schemas.decoding import DecodeError, Forgotten, decode_typed
from schemas.envelope import EventEnvelope
from schemas.outcomes import Outcome
from schemas.sealing import SubjectKeys
from schemas.subject_events import SUBJECT_FORGOTTEN

__all__ = ["Applier", "BatchResult", "DeadLetter", "OffsetGap", "Record", "scoped_key"]

log = logging.getLogger("core.projections")
TRANSIENT = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError,
             asyncpg.SerializationError, asyncpg.DeadlockDetectedError,
             asyncpg.TooManyConnectionsError, asyncpg.CannotConnectNowError)
KEYED_OUTCOME_SQL = """
SELECT status, body FROM command_outcomes WHERE project_id = $1 AND idempotency_key = $2
  AND decided_at > $3 AND decided_at < $4
ORDER BY decided_at DESC, event_id LIMIT 1
"""
BATCH_SETTINGS = {"core.projector": "on", "synchronous_commit": "on"}
"""For the batch's transaction: marks projector writes (triggers), and commits durably."""
PARKED = Outcome(500, {"error": "server_error", "message": "internal error"})
FORGOTTEN = Outcome(410, {"error": "subject_forgotten",
                          "message": "the subject was forgotten; write again, with a new "
                                     "Idempotency-Key if any, to start anew"})
Decoded = tuple[EventEnvelope, Handler, BaseModel]
Holes = Mapping[TopicPartition, tuple[int, int]]
"""Offset ranges [start, end) of a partition that the log was read through and holds no
record in (besides those given): a jump inside one is not a gap."""


class NeedsGuard(Exception):
    """The fast path writes a batch's outcomes, changes and timeline at its end; an event
    that deletes what earlier events wrote (a forget) needs them written first, as the
    guarded path does per event."""


class OffsetGap(Exception):
    def __init__(self, topic: str, partition: int, expected: int, found: int) -> None:
        super().__init__(f"{topic}[{partition}]: next offset {expected}, got {found}")
        self.topic, self.partition, self.expected, self.found = topic, partition, expected, found


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
    keys: SubjectKeys = field(default_factory=dict)

    def outcome_for_key(self, project_id: str, key: str,
                        window: tuple[datetime, datetime]) -> Outcome | None:
        for event, outcome in reversed(self.outcomes):
            if event.project_id == project_id and scoped_key(event) == key \
                    and event.event_id not in self.replayed \
                    and window[0] < event.occurred_at < window[1]:
                return outcome
        return None

    def keyed_outcomes(self) -> list[tuple[EventEnvelope, Outcome, str | None]]:
        return [(e, o, None if e.event_id in self.replayed else scoped_key(e))
                for e, o in self.outcomes]


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
    strict_positions: bool = True
    """Raise `OffsetGap` on a jump past the stored position (off for replays, which read
    the log themselves from a fixed start)."""
    idempotency_ttl_s: float = 24 * 3600
    """How far apart (by `occurred_at`) two events of one key may lie to be one request:
    the API's `CORE_IDEMPOTENCY_TTL_S`, never shorter."""
    keyring: KeyRing | None = None
    """Opens sealed records; without it a sealed record is a dead letter."""

    async def apply(self, records: Sequence[Record], holes: Holes | None = None) -> BatchResult:
        """Apply with bounded-backoff retries on transient database errors; never raises them."""
        delay = 0.1
        while True:
            try:
                return await self._apply_once(records, holes or {})
            except TRANSIENT as exc:
                log.warning("projector transient error, retrying in %.1fs: %r", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _apply_once(self, records: Sequence[Record], holes: Holes) -> BatchResult:
        try:
            return await self._apply_batch(records, holes, guarded=False)
        except (*TRANSIENT, OffsetGap):
            raise
        except NeedsGuard:
            return await self._apply_batch(records, holes, guarded=True)
        except Exception as exc:
            log.info("batch of %d failed without savepoints (%r); re-running it guarded",
                     len(records), exc)
            return await self._apply_batch(records, holes, guarded=True)

    async def _apply_batch(self, records: Sequence[Record], holes: Holes,
                           guarded: bool) -> BatchResult:
        result = BatchResult(guarded=guarded)
        async with self.pool.acquire() as conn, conn.transaction():
            await self._enter_schema(conn, BATCH_SETTINGS)
            if self.keyring is not None:
                result.keys = await self.keyring.batch_keys(conn, (r.value for r in records))
            partitions = sorted({(r.topic, r.partition) for r in records})
            next_offsets = await lock_positions(conn, self.consumer, partitions)
            run = PendingRun(self.batchers if not guarded else {})
            for record in records:
                tp = (record.topic, record.partition)
                if record.offset < next_offsets[tp]:
                    result.skipped += 1
                    continue
                self._check_contiguous(record, next_offsets[tp], holes)
                if guarded:
                    await self._apply_guarded(conn, record, result)
                else:
                    await self._apply_record(conn, record, result, run)
                next_offsets[tp] = record.offset + 1
            await self._flush(run, result)
            if not guarded:
                await self._store_batch(conn, result)
            await store_positions(conn, self.consumer, next_offsets)
        return result

    async def stored_positions(self, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The next offset of each partition as stored now (0 when none is stored yet)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await self._enter_schema(conn)
            rows = await conn.fetch(
                "SELECT partition, next_offset FROM projection_offsets WHERE consumer = $1 "
                "AND topic = $2 AND partition = ANY($3::int[])", self.consumer, topic,
                list(partitions))
        stored = {r["partition"]: r["next_offset"] for r in rows}
        return {p: stored.get(p, 0) for p in partitions}

    def _check_contiguous(self, record: Record, expected: int, holes: Holes) -> None:
        if not self.strict_positions or record.offset == expected:
            return
        start, end = holes.get((record.topic, record.partition), (0, -1))
        if not start <= expected < record.offset <= end:
            raise OffsetGap(record.topic, record.partition, expected, record.offset)

    async def _enter_schema(self, conn: asyncpg.Connection,
                            local: Mapping[str, str] | None = None) -> None:
        if self.schema is None:
            await follow_pointer(conn, local)
        else:
            await enter_schema(conn, self.schema, local)

    def _decode(self, record: Record, result: BatchResult) -> Decoded | None:
        """The event, its handler and its validated payload; None when it is skipped or
        dead-lettered."""
        try:
            event, typed = decode_typed(record.value, result.keys)
        except Forgotten as gone:  # sealed under a destroyed key: refused, never applied
            result.skipped += 1
            result.replayed.add(gone.envelope.event_id)
            result.outcomes.append((gone.envelope, FORGOTTEN))
            return None
        except DecodeError as exc:
            result.dead_letters.append(DeadLetter(record, str(exc)))
            return None
        if not self.accept(event):
            result.skipped += 1
            return None
        handler = self.handlers.get(event.type)
        if handler is None:
            result.dead_letters.append(DeadLetter(record, f"no projector for {event.type}"))
            return None
        return event, handler, typed

    async def _apply_record(self, conn: asyncpg.Connection, record: Record,
                            result: BatchResult, run: PendingRun) -> None:
        """Fast path: no savepoint; any error aborts the batch, which then runs guarded."""
        decoded = self._decode(record, result)
        if decoded is None:
            return
        event, handler, typed = decoded
        if event.type == SUBJECT_FORGOTTEN:
            raise NeedsGuard(event.event_id)
        tx = EventTx(conn, event, Position(record.topic, record.partition, record.offset),
                     typed=typed)
        if run.take(tx):
            return
        await self._flush(run, result)
        outcome = await self._replayed_outcome(conn, event, result)
        if outcome is None:
            outcome = await handler(tx)
            result.changes.extend(tx.changes)
        self._applied(result, tx, outcome)

    async def _flush(self, run: PendingRun, result: BatchResult) -> None:
        """Applies the held-back run, before anything after it in the log."""
        for tx, outcome in await run.flush():
            result.changes.extend(tx.changes)
            self._applied(result, tx, outcome)

    async def _store_batch(self, conn: asyncpg.Connection, result: BatchResult) -> None:
        if self.emit_changes:
            await store_changes(conn, result.changes)
            await store_dead_letters(conn, result.dead_letters)
        await store_outcomes(conn, result.keyed_outcomes(), self.notify_outcomes)
        await store_timeline(conn, result.timeline)
        await store_subjects(conn, result.timeline, result.changes)

    async def _apply_guarded(self, conn: asyncpg.Connection, record: Record,
                             result: BatchResult) -> None:
        """One savepoint around everything the event writes; a failure parks the event."""
        parked, answered = len(result.dead_letters), len(result.outcomes)
        decoded = self._decode(record, result)
        if decoded is None:
            await self._park_letters(conn, result.dead_letters[parked:])
            await store_outcomes(conn, [(e, o, None) for e, o in result.outcomes[answered:]],
                                 self.notify_outcomes)
            return
        event, handler, typed = decoded
        tx = EventTx(conn, event, Position(record.topic, record.partition, record.offset),
                     typed=typed)
        try:
            async with conn.transaction():
                outcome = await self._replayed_outcome(conn, event, result)
                if outcome is None:
                    outcome = await handler(tx)
                await self._store_event(conn, tx, outcome, result)
        except TRANSIENT:
            raise
        except Exception as exc:
            log.error("parking %s (%s) at %s[%d]@%d: %r", event.event_id, event.type,
                      record.topic, record.partition, record.offset, exc)
            await self._park(conn, DeadLetter(record, f"projector error: {exc!r}"), event,
                             result)
            return
        result.changes.extend(tx.changes)
        self._applied(result, tx, outcome)
        if event.type == SUBJECT_FORGOTTEN:
            result.keys = without_forgotten(result.keys, event)

    async def _store_event(self, conn: asyncpg.Connection, tx: EventTx, outcome: Outcome | None,
                           result: BatchResult) -> None:
        if self.emit_changes:
            await store_changes(conn, tx.changes)
        if outcome is not None:
            replayed = tx.event.event_id in result.replayed
            key = None if replayed else scoped_key(tx.event)
            await store_outcomes(conn, [(tx.event, outcome, key)], self.notify_outcomes)
        row = timeline_row(tx.event, tx.position, outcome)
        await store_timeline(conn, [row])
        await store_subjects(conn, [row], tx.changes)

    async def _park(self, conn: asyncpg.Connection, letter: DeadLetter, event: EventEnvelope,
                    result: BatchResult) -> None:
        """The dead letter, and a 500 answer for the waiting client when one can be stored
        (an event whose own ids Postgres refuses gets none: its wait ends in a 202)."""
        result.dead_letters.append(letter)
        await self._park_letters(conn, [letter])
        try:
            async with conn.transaction():
                await store_outcomes(conn, [(event, PARKED, None)], self.notify_outcomes)
            result.outcomes.append((event, PARKED))
        except TRANSIENT:
            raise
        except asyncpg.PostgresError as exc:
            log.error("no outcome stored for parked event %s: %r", event.event_id, exc)

    async def _park_letters(self, conn: asyncpg.Connection, letters: list[DeadLetter]) -> None:
        if self.emit_changes:
            await store_dead_letters(conn, letters)

    @staticmethod
    def _applied(result: BatchResult, tx: EventTx, outcome: Outcome | None) -> None:
        result.applied += 1
        result.timeline.append(timeline_row(tx.event, tx.position, outcome))
        if outcome is not None:
            result.outcomes.append((tx.event, outcome))

    async def _replayed_outcome(self, conn: asyncpg.Connection, event: EventEnvelope,
                                result: BatchResult) -> Outcome | None:
        """The earlier outcome of the same idempotency key, if any (then nothing applies)."""
        key = scoped_key(event)
        if key is None:
            return None
        ttl = timedelta(seconds=self.idempotency_ttl_s)
        window = (event.occurred_at - ttl, event.occurred_at + ttl)
        found = result.outcome_for_key(event.project_id, key, window)
        if found is None:
            row = await conn.fetchrow(KEYED_OUTCOME_SQL, event.project_id, key, *window)
            found = Outcome(row["status"], orjson.loads(row["body"])) if row else None
        if found is not None:
            result.replayed.add(event.event_id)
        return found


def without_forgotten(keys: SubjectKeys, forget: EventEnvelope) -> SubjectKeys:
    """The batch's keys once `forget` destroyed its subject's generations up to its own:
    later records of the batch sealed with them are refused, as they will be on a replay."""
    up_to = int(forget.payload.get("up_to_generation", 0))
    subject = (forget.project_id, forget.subject_id)
    return {ref: None if ref[:2] == subject and ref[2] <= up_to else key
            for ref, key in keys.items()}


def scoped_key(event: EventEnvelope) -> str | None:
    """Idempotency keys are scoped by principal: one key of two callers is two keys."""
    if not event.idempotency_key:
        return None
    return f"{event.actor}\x1f{event.idempotency_key}"
