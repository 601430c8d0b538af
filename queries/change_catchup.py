"""Reads the part of the changes topic a resuming SSE client missed, with its own consumer.

The range per partition is [from, to): `from` is the client's `Last-Event-ID`, `to` the
live tailer's position when the client's subscription was registered; everything from
`to` on reaches the client through the live subscription instead. `queries.shared_catchup`
runs one such read for every stream resuming from the same position.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from types import TracebackType

import anyio
from aiokafka import ConsumerRecord, TopicPartition

from queries.changes_topic import changes_consumer


class CatchUpReader:
    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.topic = topic
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer = changes_consumer(bootstrap)

    async def __aenter__(self) -> CatchUpReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        with anyio.move_on_after(10, shield=True):  # runs while the client's task is cancelled
            await self._consumer.stop()

    async def available(self, start: Sequence[int]) -> bool:
        """False when part of the range is gone (retention) or was never written."""
        first = await self._consumer.beginning_offsets(self.tps)
        end = await self._consumer.end_offsets(self.tps)
        return all(first[tp] <= start[tp.partition] <= end[tp] for tp in self.tps)

    async def read(self, start: Sequence[int],
                   stop: Sequence[int]) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
        """Every record from `start` on, each partition in log order, until every partition's
        position reaches `stop`. `stop` may grow while the read runs (another stream joined),
        and the last batch may run past it: a stream skips those records when they reach it
        again live, because its position is already beyond them."""
        self._consumer.assign(self.tps)
        for tp in self.tps:
            self._consumer.seek(tp, start[tp.partition])
        while pending := [tp for tp in self.tps
                          if await self._consumer.position(tp) < stop[tp.partition]]:
            batch = await self._consumer.getmany(*pending, timeout_ms=1000, max_records=500)
            for records in batch.values():
                for record in records:
                    yield record
