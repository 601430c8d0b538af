"""Kafka access to the changes topic for the SSE side: plain, group-less consumers."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer


def changes_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """No consumer group: partitions are assigned by hand and offsets are never committed."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest", isolation_level="read_committed")
