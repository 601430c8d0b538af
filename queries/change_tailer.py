"""One Kafka tailer per API process: follows every partition of the changes topic from the
end of the log (manual assignment, no consumer group) and fans each change out to the SSE
subscriptions of its project. Every instance reads every change, so a subscriber on one
instance sees writes made through any other.

Fan-out never waits: a subscription whose bounded queue is full is cut off (it receives
`OVERFLOW` and is dropped), so one slow client cannot stall the others.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from kernel.kafka import partition_count
from kernel.settings import Settings
from kernel.shredding import Opener
from kernel.tasks import SupervisedTask
from kernel.telemetry import tracing
from queries.change_feed import FeedChange, StreamFilter, decode_change
from queries.changes_topic import changes_consumer
from queries.shared_catchup import CatchUps

log = logging.getLogger("core.queries.tailer")


class Signal(enum.Enum):
    OVERFLOW = "overflow"
    CLOSED = "closed"


@dataclass(frozen=True)
class Delivery:
    """A matching change, where it sits in the log, and the tailer's position after it."""

    partition: int
    offset: int
    snapshot: tuple[int, ...]
    change: FeedChange
    trace: Any = None
    """The relay span's context from the record's `traceparent` (None when traces are off)."""


@dataclass(eq=False)
class Subscription:
    filter: StreamFilter
    start: tuple[int, ...]
    queue: asyncio.Queue[Delivery | Signal] = field(repr=False)
    ended: bool = False

    def offer(self, item: Delivery) -> bool:
        """False when the queue is full: the subscription is then ended with OVERFLOW."""
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.end(Signal.OVERFLOW)
            return False

    def end(self, signal: Signal) -> None:
        """Replace whatever is pending with `signal` (a cut-off client resumes by id)."""
        if self.ended:
            return
        self.ended = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(signal)

    async def next_batch(self, timeout: float, limit: int = 512) -> list[Delivery | Signal]:
        """The next item and whatever else is already queued (a signal is always last,
        `end` leaves nothing behind it); empty when `timeout` seconds pass without one."""
        first = await self.next(timeout)
        if first is None:
            return []
        items = [first]
        while len(items) < limit and not isinstance(items[-1], Signal) and not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    async def next(self, timeout: float) -> Delivery | Signal | None:
        """The next item, or None when `timeout` seconds pass without one."""
        try:
            async with asyncio.timeout(max(timeout, 0)):
                return await self.queue.get()
        except TimeoutError:
            return None


class ChangeTailer:
    def __init__(self, bootstrap: str, topic: str, queue_max: int, partitions: int) -> None:
        self.bootstrap, self.topic, self.queue_max = bootstrap, topic, queue_max
        self.positions: list[int] = [0] * partitions
        # project → filter → subscriptions: a change is matched once per distinct filter
        self._by_project: dict[str, dict[StreamFilter, set[Subscription]]] = {}
        self._consumer = changes_consumer(bootstrap)
        self._task: SupervisedTask | None = None
        self.catchups = CatchUps(bootstrap, topic)
        self.opener: Opener | None = None
        """Opens sealed changes (set by the composition root when there is a master key)."""

    def use_opener(self, opener: Opener) -> None:
        self.opener = self.catchups.opener = opener

    @classmethod
    def from_settings(cls, settings: Settings) -> ChangeTailer:
        return cls(settings.resolved_bootstrap(), settings.changes_topic, settings.sse_queue_max,
                   settings.partitions)

    async def start(self) -> None:
        count = await partition_count(self.bootstrap, self.topic, wait_s=30.0)
        await self._consumer.start()
        tps = [TopicPartition(self.topic, p) for p in range(count)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        self.positions = [await self._consumer.position(tp) for tp in tps]
        self._task = SupervisedTask("change-tailer", self._run).start()

    async def stop(self) -> None:
        if self._task is not None:
            await self._task.stop()
        await self._consumer.stop()
        for groups in list(self._by_project.values()):
            for subscription in [s for group in list(groups.values()) for s in group]:
                self.unsubscribe(subscription, Signal.CLOSED)
        await self.catchups.close()

    @property
    def subscriber_count(self) -> int:
        return sum(self.project_subscribers(project) for project in self._by_project)

    def project_subscribers(self, project_id: str) -> int:
        return sum(len(group) for group in self._by_project.get(project_id, {}).values())

    def subscribe(self, stream_filter: StreamFilter) -> Subscription:
        """Registered synchronously: the stream gets every matching change from `start` on."""
        subscription = Subscription(stream_filter, tuple(self.positions),
                                    asyncio.Queue(maxsize=self.queue_max))
        groups = self._by_project.setdefault(stream_filter.project_id, {})
        groups.setdefault(stream_filter, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription, signal: Signal = Signal.CLOSED) -> None:
        subscription.end(signal)
        groups = self._by_project.get(subscription.filter.project_id, {})
        group = groups.get(subscription.filter, set())
        group.discard(subscription)
        if not group:
            groups.pop(subscription.filter, None)
        if not groups:
            self._by_project.pop(subscription.filter.project_id, None)

    async def _run(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=1000, max_records=500)
                for records in batch.values():
                    values: list[bytes | None] = [r.value for r in records]
                    if self.opener is not None and self._by_project:
                        values = await self.opener(values)
                    for record, value in zip(records, values, strict=True):
                        self._dispatch(record, b"" if value is None else value)
            except Exception:  # the one tailer of the process must outlive any failure
                log.exception("change tailer failed; retrying")
                await asyncio.sleep(1)

    def _dispatch(self, record: ConsumerRecord[bytes, bytes], value: bytes | None = None) -> None:
        """`value`: the record's value as opened (b"" when it does not open)."""
        self.positions[record.partition] = record.offset + 1
        if not self._by_project:
            return
        change = decode_change(record.value if value is None else value)
        if change is None:
            return
        groups = self._by_project.get(change.project_id, {})
        matching = [s for stream_filter, group in groups.items() if stream_filter.accepts(change)
                    for s in group]
        if not matching:
            return
        delivery = Delivery(record.partition, record.offset, tuple(self.positions), change,
                            tracing.header_context(record.headers) if tracing.enabled() else None)
        for subscription in matching:
            if not subscription.offer(delivery):
                self.unsubscribe(subscription, Signal.OVERFLOW)
