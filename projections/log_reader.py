"""Reads a topic from given positions up to fixed end offsets, without a consumer group."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.batch_writes import Record


async def read_range(bootstrap: str, topic: str, start: Mapping[int, int],
                     stop: Mapping[int, int], max_records: int = 2000,
                     with_headers: bool = False) -> AsyncIterator[list[Record]]:
    """Yields batches of records with start[p] <= offset < stop[p] for every partition p."""
    pending = {p: s for p, s in stop.items() if start.get(p, 0) < s}
    if not pending:
        return
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    try:
        tps = {p: TopicPartition(topic, p) for p in pending}
        consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, start.get(p, 0))
        while pending:
            fetched = await consumer.getmany(*[tps[p] for p in pending], timeout_ms=1000,
                                             max_records=max_records)
            batch = _take(fetched, pending, topic, with_headers)
            for p in list(pending):
                if await consumer.position(tps[p]) >= pending[p]:
                    pending.pop(p)
            if batch:
                yield batch
    finally:
        await consumer.stop()


async def log_ends(bootstrap: str, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The log end offset of each partition (no consumer group involved)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                request_timeout_ms=10_000)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


class LogEnds:
    """`log_ends` on one long-lived group-less consumer, for a caller that asks every few
    seconds (a consumer per call costs a bootstrap and a metadata round on each). A failed
    call drops the consumer; the next one starts a fresh one."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.consumer: AIOKafkaConsumer | None = None

    async def __call__(self, partitions: Iterable[int]) -> dict[int, int]:
        if self.consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                        enable_auto_commit=False, request_timeout_ms=10_000)
            await consumer.start()
            self.consumer = consumer
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            ends = await self.consumer.end_offsets(tps)
        except BaseException:
            await self.close()
            raise
        return {tp.partition: offset for tp, offset in ends.items()}

    async def close(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            await consumer.stop()


def _take(fetched: Mapping[TopicPartition, list], pending: dict[int, int],  # type: ignore[type-arg]
          topic: str, with_headers: bool) -> list[Record]:
    batch: list[Record] = []
    for tp, messages in fetched.items():
        end = pending.get(tp.partition)
        if end is None:
            continue
        batch.extend(Record(topic, m.partition, m.offset, m.key, m.value,
                            tuple(m.headers) if with_headers else ())
                     for m in messages if m.offset < end)
    return batch
