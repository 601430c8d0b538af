"""Kafka positions and produce timing.

`LogEnds` keeps one group-less consumer per process to read log end offsets (readiness,
projector lag); a failed call drops the consumer so the next call reconnects.
`timed_produce` decorates a coroutine that produces one record and observes its latency.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from kernel.kafka import partition_count
from kernel.metrics import KAFKA_PRODUCE_SECONDS

P = ParamSpec("P")
T = TypeVar("T")


class LogEnds:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions = 0

    async def fetch(self) -> dict[int, int]:
        """Log end offset of every partition of the topic (callers bound it with a timeout)."""
        try:
            consumer = await self._connected()
            if not self._partitions:
                self._partitions = await partition_count(self.bootstrap, self.topic)
            tps = [TopicPartition(self.topic, p) for p in range(self._partitions)]
            ends = await consumer.end_offsets(tps)
            return {tp.partition: offset for tp, offset in ends.items()}
        except BaseException:
            await self.close()
            raise

    async def _connected(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                        enable_auto_commit=False, request_timeout_ms=5000)
            self._consumer = consumer
            await consumer.start()
        return self._consumer

    async def close(self) -> None:
        consumer, self._consumer, self._partitions = self._consumer, None, 0
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()


def timed_produce(produce: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(produce)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await produce(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            KAFKA_PRODUCE_SECONDS.labels(outcome).observe(time.perf_counter() - started)

    return timed
