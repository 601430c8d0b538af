"""The outbox relay outlives a broken Kafka path: a produce that fails (here, a changes topic
that does not exist yet) leaves the rows in the outbox, shows the relay as down, and once
the path works again every row is delivered — the relay never ends silently."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from kernel.db import create_pool
from kernel.kafka import new_producer
from kernel.migrate import migrate
from kernel.settings import Settings
from kernel.tasks import SupervisedTask
from projections.outbox_relay import OutboxRelay
from tests.support.system import Infra
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"core_relay_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.dsn())
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    conn = await asyncpg.connect(infra.dsn(name))
    await migrate(conn)
    await conn.close()
    created = await create_pool(infra.dsn(name), max_size=3)
    yield created
    await created.close()


async def enqueue(pool: asyncpg.Pool, count: int, start: int = 0) -> list[str]:
    ids = [f"chg-{uuid.uuid4().hex[:8]}:{i}" for i in range(start, start + count)]
    await pool.executemany(
        "INSERT INTO outbox (change_id, project_id, subject_id, type, payload, source_event_id,"
        " occurred_at) VALUES ($1, 'p', 's', 'memory.created', $2, 'e', $3)",
        [(cid, {"n": i}, datetime.now(UTC)) for i, cid in enumerate(ids)])
    return ids


def relay_up() -> float | None:
    return REGISTRY.get_sample_value("core_outbox_relay_up")


async def read_all(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    found: list[str] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                found += [orjson.loads(r.value)["change_id"]
                          for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return found


async def test_relay_survives_a_failing_kafka_path_and_delivers_everything(
        infra: Infra, pool: asyncpg.Pool) -> None:
    topic = f"relay-{uuid.uuid4().hex[:8]}.changes"
    settings = Settings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap)
    producer = new_producer(settings, request_timeout_ms=1500)
    await producer.start()
    relay = OutboxRelay(pool, producer, topic)
    task = SupervisedTask("outbox-relay-test", relay.run).start()
    try:
        await wait_until(lambda: relay.up is True, "relay reported up on an empty outbox")
        first = await enqueue(pool, 5)
        relay.wake()
        await wait_until(lambda: relay.up is False, "relay reported down")
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 5
        assert task.task is not None and not task.task.done()
        assert task.restarts == 0, "a Kafka error must be retried by the relay, not kill it"

        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
        await admin.start()
        await admin.create_topics([NewTopic(topic, 2, 1)])
        await admin.close()
        second = await enqueue(pool, 5, start=5)
        relay.wake()

        async def drained() -> bool:
            return await pool.fetchval("SELECT count(*) FROM outbox") == 0

        await wait_until(drained, "outbox drained", timeout=60)
        assert relay.up is True and relay_up() is not None and task.restarts == 0
        delivered = await read_all(infra.bootstrap, topic, 10)
        assert sorted(set(delivered)) == sorted(first + second)
    finally:
        await task.stop()
        await producer.stop()


async def test_rows_nobody_announced_are_found_by_the_idle_look(
        infra: Infra, pool: asyncpg.Pool) -> None:
    """A wake names what a batch wrote, so its drain skips the look; rows written without one
    (here: a wake for changes only, with a dead letter parked too) are found by the poll."""
    topic, dlq = (f"relay-{uuid.uuid4().hex[:8]}.{kind}" for kind in ("changes", "dlq"))
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(dlq, 1, 1)])
    await admin.close()
    producer = new_producer(Settings(KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap))
    await producer.start()
    relay = OutboxRelay(pool, producer, topic, dlq)
    task = SupervisedTask("relay-look", lambda: relay.run(idle_poll_s=0.2,
                                                           max_backoff_s=0.2)).start()
    try:
        await pool.execute(
            "INSERT INTO dead_letter_outbox (origin_topic, origin_partition, origin_offset, "
            "record_key, record_value, reason) VALUES ('t', 0, 7, NULL, 'x', 'parked')")
        ids = await enqueue(pool, 3)
        relay.wake(changes=True, dead_letters=False)

        async def drained() -> bool:
            return await pool.fetchval(
                "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM "
                "dead_letter_outbox)") == 0

        await wait_until(drained, "both outboxes drained", timeout=30)
        assert sorted(await read_all(infra.bootstrap, topic, 3)) == sorted(ids)
    finally:
        await task.stop()
        await producer.stop()
