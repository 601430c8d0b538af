"""Kafka connections: topic creation, the idempotent producer, readiness."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from kernel.settings import Settings

TOPIC_EXISTS = 36


def topic_specs(settings: Settings) -> list[NewTopic]:
    durable = {"min.insync.replicas": str(settings.min_insync_replicas)}
    forever = {**durable, "retention.ms": "-1", "retention.bytes": "-1"}
    changes = {**durable, "retention.ms": str(settings.changes_retention_ms)}
    replicas = settings.replication_factor
    return [
        NewTopic(settings.events_topic, settings.partitions, replicas, topic_configs=forever),
        NewTopic(settings.changes_topic, settings.partitions, replicas, topic_configs=changes),
        NewTopic(settings.dlq_topic, settings.partitions, replicas, topic_configs=forever),
        NewTopic(settings.commands_topic, settings.partitions, replicas, topic_configs=changes),
        NewTopic(settings.rejected_commands_topic, settings.partitions, replicas,
                 topic_configs=changes),
    ]


async def ensure_topics(settings: Settings, timeout: float = 60.0) -> None:
    """Create the topics when absent; waits for the broker to accept admin requests."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.resolved_bootstrap())
        try:
            await admin.start()
            response = await admin.create_topics(topic_specs(settings))
            errors = [code for _, code, *_ in response.topic_errors
                      if code not in (0, TOPIC_EXISTS)]
            if not errors:
                return
            raise RuntimeError(f"create_topics failed: {response.topic_errors}")
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


def new_producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    options: dict[str, object] = {
        "bootstrap_servers": settings.resolved_bootstrap(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 15_000,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class TopicMissing(RuntimeError):
    pass


async def partition_count(bootstrap: str, topic: str, wait_s: float = 0.0) -> int:
    """The topic's partition count; waits up to `wait_s` for a topic being created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        deadline = time.monotonic() + wait_s
        while True:
            described = await admin.describe_topics([topic])
            found = [t for t in described if t["topic"] == topic and t["error_code"] == 0]
            if found and found[0]["partitions"]:
                return len(found[0]["partitions"])
            if time.monotonic() >= deadline:
                raise TopicMissing(f"Kafka topic {topic!r} does not exist (create the topics "
                                   "first: `core topics`; `core dev` does it at start)")
            await asyncio.sleep(1)
    finally:
        await admin.close()


def subject_key(project_id: str, subject_id: str) -> bytes:
    """Every event about one subject lands in one partition, in order."""
    return f"{project_id}\x1f{subject_id}".encode()


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Log end offset of every partition of `topic` (no consumer group involved)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap())
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()
