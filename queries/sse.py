"""GET /api/v1/events/memories — memory lifecycle events as Server-Sent Events (§10, §15 Q23).

Query parameters
* `subject_id` (trimmed; empty = every subject of the project): exact subject filter.
* `include=claims` (comma-separated list, other values ignored): also deliver
  `claim.asserted`, `claim.retracted` and `slot.changed`; it needs `claims:read` besides the
  route's `events:read`, refused like any missing scope (403 `insufficient_scope`).
  Without it a client receives exactly the spec's memory stream: `memory.created`,
  `memory.superseded`, `memory.updated`, `memory.deleted`. Internal change types are never sent.

Frames are `event: <type>` + `data: <compact JSON payload>` (+ `id: <position>`) lines:
* `connected` `{project_id, subject_id, timestamp}` first, immediately; its `id` is the live
  start position (no `id` when the client resumes, so its own Last-Event-ID stays valid);
* `heartbeat` `{timestamp}` every `CORE_SSE_HEARTBEAT_MS`, with the stream's position;
* lifecycle events with the spec's payloads and the position just after them;
* `reset` `{reason}` when `Last-Event-ID` cannot be honoured: `position_unavailable`
  (malformed, from another log, or older than the topic's retention) or `too_far_behind`
  (more than `CORE_SSE_CATCHUP_MAX` changes behind the live position, summed over
  partitions): the stream continues live from the `id` it carries;
* `overflow` `{reason}` when the client fell more than `CORE_SSE_QUEUE_MAX` changes behind;
  the stream then ends, and reconnecting with the last id received resumes without loss;
* `revoked` `{reason}` when the stream's credential is no longer admitted (key revoked,
  scope or project taken away): checked every `CORE_SSE_RECHECK_MS`; the stream then ends.

Resume: `Last-Event-ID` = a position (see `queries.change_feed`). The stream subscribes to
the live tailer first (buffering), follows the catch-up read of the missed range (one
Kafka consumer shared by every stream resuming from the same position, see
`queries.shared_catchup`), then drains the buffer, skipping anything at or below what it
already delivered.

Browsers: `?access_token=<stream token>` (from `POST /api/v1/events/tokens`) instead of
headers; the token fixes the project, the scopes and, when minted with one, the subject
filter (another `subject_id` is 403 `token_subject_mismatch`).

Open streams are capped per project, per principal and per process (`queries.stream_slots`):
beyond a cap the answer is 429 `too_many_subscribers` with that cap's `limit`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
from starlette.responses import Response

from kernel.access import caller_of, stream_binding_of
from kernel.http import error, str_param
from kernel.metrics import SSE_DROPPED
from kernel.routing import PRINCIPAL, STILL_ADMITTED, Call, Handler
from kernel.telemetry import tracing
from kernel.timefmt import iso_ms, now_ms
from queries.change_feed import (
    CLAIM_TYPES,
    Cursor,
    FeedChange,
    StreamFilter,
    ordered_payload,
    parse_position,
    requested_types,
)
from queries.change_tailer import ChangeTailer, Delivery, Signal, Subscription
from queries.shared_catchup import SharedRead, changes_behind
from queries.stream_slots import SlotResponse, StreamLimits, StreamSlots

CLAIMS_READ = "claims:read"
MEMORIES_READ = "memories:read"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform",
               "Connection": "keep-alive", "X-Accel-Buffering": "no"}


Readmission = Callable[[], Awaitable[bool]]


def frame(event: str, data: Any, position: str | None = None) -> bytes:
    lines = f"event: {event}\ndata: {orjson.dumps(data).decode()}\n"
    return (lines + (f"id: {position}\n" if position is not None else "") + "\n").encode()


_HEADS: OrderedDict[str, bytes] = OrderedDict()


def change_head(change: FeedChange) -> bytes:
    """`event:` and `data:` lines of a change, encoded once for all its subscribers."""
    head = _HEADS.get(change.change_id)
    if head is None:
        head = frame(change.type, ordered_payload(change))[:-1]
        _HEADS[change.change_id] = head
        if len(_HEADS) > 4096:
            _HEADS.popitem(last=False)
    return head


def _stamp() -> dict[str, str]:
    return {"timestamp": iso_ms(now_ms()) or ""}


class ChangeStream:
    def __init__(self, tailer: ChangeTailer, stream_filter: StreamFilter,
                 limits: StreamLimits, still_admitted: Readmission | None = None) -> None:
        self.tailer, self.filter, self.limits = tailer, stream_filter, limits
        self.heartbeat_s = limits.heartbeat_s
        self.still_admitted = still_admitted

    async def frames(self, last_event_id: str | None,
                     shutdown: anyio.Event) -> AsyncIterator[bytes]:
        subscription = self.tailer.subscribe(self.filter)
        cursor = Cursor(subscription.start)
        closer = asyncio.create_task(self._end_on(shutdown, subscription))
        try:
            yield frame("connected", {"project_id": self.filter.project_id,
                                      "subject_id": self.filter.subject_id, **_stamp()},
                        None if last_event_id else cursor.token())
            if last_event_id:
                async for missed in self._catch_up(subscription, cursor, last_event_id):
                    yield missed
            async for live in self._live(subscription, cursor):
                yield live
        finally:
            closer.cancel()
            self.tailer.unsubscribe(subscription)

    async def _end_on(self, shutdown: anyio.Event, subscription: Subscription) -> None:
        """Server shutdown ends the stream normally, so the response completes cleanly."""
        await shutdown.wait()
        self.tailer.unsubscribe(subscription)

    async def _catch_up(self, subscription: Subscription, cursor: Cursor,
                        last_event_id: str) -> AsyncIterator[bytes]:
        start = parse_position(last_event_id, len(subscription.start))
        reason = "position_unavailable"
        if start is not None and changes_behind(start, subscription.start) > \
                self.limits.catchup_max:
            reason = "too_far_behind"
        elif start is not None:
            async with self.tailer.catchups.join(start, subscription.start) as read:
                if await read.is_available():
                    cursor.reset(start)
                    async for missed in self._missed(read, cursor):
                        yield missed
                    cursor.merge(subscription.start)
                    return
        yield frame("reset", {"reason": reason}, cursor.token())

    async def _missed(self, read: SharedRead, cursor: Cursor) -> AsyncIterator[bytes]:
        async for record in read.follow():
            found = self._deliver(cursor, record.partition, record.offset, record.change)
            if found is not None:
                yield found

    async def _live(self, subscription: Subscription, cursor: Cursor) -> AsyncIterator[bytes]:
        beat = time.monotonic() + self.heartbeat_s
        recheck = time.monotonic() + self.limits.recheck_s
        while True:
            if self.still_admitted is not None and time.monotonic() >= recheck:
                if not await self.still_admitted():
                    SSE_DROPPED.labels("revoked").inc()
                    yield frame("revoked", {"reason": "credentials_revoked"})
                    return
                recheck = time.monotonic() + self.limits.recheck_s
            if time.monotonic() >= beat:
                if subscription.queue.empty():
                    cursor.merge(self.tailer.positions)
                yield frame("heartbeat", _stamp(), cursor.token())
                beat = max(beat + self.heartbeat_s, time.monotonic())
                continue
            items = await subscription.next_batch(min(beat, recheck) - time.monotonic())
            chunk, signal = self._batch(cursor, items)
            if chunk:
                delivery = tracing.sse_delivery(items)  # one span per written batch
                try:
                    yield chunk
                finally:
                    tracing.end(delivery)
            if signal is Signal.OVERFLOW:
                SSE_DROPPED.labels("overflow").inc()
                yield frame("overflow", {"reason": "queue_full"})
            if signal is not None:
                return

    def _batch(self, cursor: Cursor,
               items: list[Delivery | Signal]) -> tuple[bytes, Signal | None]:
        """The frames of everything already queued, as one write (a burst of changes costs
        one wake-up and one send per subscriber, not one per change), and the end signal."""
        frames: list[bytes] = []
        for item in items:
            if isinstance(item, Signal):
                return b"".join(frames), item
            found = self._deliver(cursor, item.partition, item.offset, item.change,
                                  item.snapshot)
            if found is not None:
                frames.append(found)
        return b"".join(frames), None

    def _deliver(self, cursor: Cursor, partition: int, offset: int, change: FeedChange | None,
                 snapshot: tuple[int, ...] = ()) -> bytes | None:
        if cursor.seen(partition, offset):
            return None
        cursor.advance(partition, offset, snapshot)
        if change is None or not self.filter.accepts(change):
            return None
        if not cursor.first_time(change.change_id):
            return None
        return change_head(change) + f"id: {cursor.token()}\n\n".encode()


def memory_events(tailer: ChangeTailer, limits: StreamLimits) -> Handler:
    slots = StreamSlots(limits)

    async def handler(call: Call) -> Response:
        query = call.request.query_params
        types = requested_types(query.get("include"))
        caller = caller_of(call.request)
        if types & CLAIM_TYPES and not caller.holds(CLAIMS_READ):
            return error(403, "insufficient_scope", required_scope=CLAIMS_READ)
        if not caller.holds(MEMORIES_READ):  # memory events carry the memories' text
            return error(403, "insufficient_scope", required_scope=MEMORIES_READ)
        subject = str_param(query.get("subject_id")) or None
        binding = stream_binding_of(call.request)
        if binding is not None and binding.subject_id is not None:
            if subject not in (None, binding.subject_id):
                return error(403, "token_subject_mismatch", subject_id=binding.subject_id)
            subject = binding.subject_id
        stream_filter = StreamFilter(call.project_id, subject, types)
        resume = str_param(call.request.headers.get("last-event-id")) or None
        stream = ChangeStream(tailer, stream_filter, limits,
                              call.request.scope.get(STILL_ADMITTED))
        shutdown = anyio.Event()
        principal = str(call.request.scope.get(PRINCIPAL) or "anonymous")
        refusal = slots.take(call.project_id, principal)
        if refusal is not None:
            return error(429, "too_many_subscribers", limit=refusal.limit)
        return SlotResponse(lambda: slots.give_back(call.project_id, principal),
                            stream.frames(resume, shutdown), headers=SSE_HEADERS, ping=0,
                            sep="\n", shutdown_event=shutdown, shutdown_grace_period=2)

    return handler
