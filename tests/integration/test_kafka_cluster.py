"""A 3-broker cluster keeps taking acks=all writes when a broker is SIGKILLed mid-stream, and
every acknowledged record is read back exactly once."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from kernel.kafka import ensure_topics, new_producer
from kernel.settings import Settings
from tests.support.cluster import Cluster
from tests.support.system import ARTIFACTS, REPO

pytestmark = pytest.mark.integration

RECORDS = 300
PARTITIONS = 3


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    home = Path(tempfile.mkdtemp(prefix="core-cluster-"))
    started = Cluster.start(home, REPO / ".cache" / "kafka-libs", ARTIFACTS / "logs" / "cluster")
    try:
        yield started
    finally:
        started.stop()


def cluster_settings(cluster: Cluster) -> Settings:
    return Settings(KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap, CORE_PARTITIONS=PARTITIONS,
                    CORE_TOPIC_PREFIX=f"drill-{uuid.uuid4().hex[:8]}",
                    CORE_REPLICATION_FACTOR=3, CORE_MIN_INSYNC_REPLICAS=2)


async def send_until_acked(producer: AIOKafkaProducer, topic: str, value: bytes,
                           partition: int) -> int:
    """Sends until acknowledged; returns how many attempts failed first."""
    failures = 0
    while True:
        try:
            await producer.send_and_wait(topic, value, partition=partition)
            return failures
        except KafkaError:
            failures += 1


async def behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    positions = {tp: await consumer.position(tp) for tp in ends}
    return any(positions[tp] < end for tp, end in ends.items())


async def read_all(settings: Settings, topic: str) -> Counter[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap())
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        seen: Counter[bytes] = Counter()
        deadline = time.monotonic() + 30
        while await behind(consumer, ends):
            assert time.monotonic() < deadline, "could not read the topic back within 30 s"
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen.update(r.value for r in records if r.value is not None)
        return seen
    finally:
        await consumer.stop()


async def test_acks_all_writes_survive_a_broker_kill(cluster: Cluster) -> None:
    settings = cluster_settings(cluster)
    await ensure_topics(settings)
    producer = new_producer(settings)
    await producer.start()
    acked: list[bytes] = []
    ack_times = [time.monotonic()]
    retried = 0
    try:
        for i in range(RECORDS):
            if i == RECORDS // 2:
                leader = producer.client.cluster.leader_for_partition(
                    TopicPartition(settings.events_topic, i % PARTITIONS))
                cluster.kill(int(leader))
                killed_at = len(ack_times) - 1
            value = f"record-{i}".encode()
            retried += await send_until_acked(producer, settings.events_topic, value,
                                              i % PARTITIONS)
            acked.append(value)
            ack_times.append(time.monotonic())
    finally:
        await producer.stop()
    cluster.restart(int(leader))

    seen = await read_all(settings, settings.events_topic)
    assert {value: seen[value] for value in acked} == dict.fromkeys(acked, 1)
    pauses = [b - a for a, b in zip(ack_times, ack_times[1:], strict=False)]
    longest = max(pauses)
    print(f"broker {leader} killed after {killed_at} acks; longest pause between "
          f"acknowledgements {longest:.2f}s (the one after the kill "
          f"{pauses[killed_at]:.2f}s); failed sends retried: {retried}")
    assert longest < 30, "a write waited longer than the broker timeouts explain"
