"""Kafka access to the changes topic for the SSE side: plain consumers and the partition count."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient


def changes_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """No consumer group: partitions are assigned by hand and offsets are never committed."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                            auto_offset_reset="earliest", isolation_level="read_committed")


async def partition_count(bootstrap: str, topic: str, wait_s: float = 30.0) -> int:
    """The topic's partition count; waits a while for a topic that is being created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + wait_s
        while True:
            described = await admin.describe_topics([topic])
            found = [t for t in described if t["topic"] == topic and t["error_code"] == 0]
            if found and found[0]["partitions"]:
                return len(found[0]["partitions"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka topic {topic!r} does not exist (create the topics "
                                   "first: `core dev` does it at start)")
            await asyncio.sleep(1)
    finally:
        await admin.close()
