"""Projector throughput on a pre-filled topic, and replay throughput.

N `memory.submitted` events (the events envelope, keyed by subject) are produced straight
to a fresh topic; a worker process with a fresh consumer group and a fresh database then
catches up, timed from its first committed batch to the end of the log. The same log is
then folded into a new schema by `projections.replay.Replayer`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka.admin import AIOKafkaAdminClient

from kernel.db import connect_plain
from kernel.ids import uuid7
from kernel.kafka import new_producer, subject_key
from kernel.migrate import migrate
from kernel.settings import Settings
from schemas.memory_events import MemorySubmitted


def event(project: str, subject: str, seq: int) -> bytes:
    payload = MemorySubmitted(id=f"mem_p{project[-8:]}_{seq:08d}",
                              text=f"projected memory {seq}: likes item {seq % 991}",
                              importance=seq % 100).model_dump()
    return orjson.dumps({
        "event_id": uuid7(), "type": "memory.submitted", "v": 1, "project_id": project,
        "subject_id": subject, "occurred_at": datetime.now(UTC).isoformat(),
        "actor": "bench", "idempotency_key": None, "payload": payload})


async def produce(settings: Settings, project: str, count: int, subjects: int,
                  report: Callable[[int, int], None] | None = None) -> float:
    producer = new_producer(settings, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    began = time.perf_counter()
    try:
        for start in range(0, count, 5000):
            sends = []
            for seq in range(start, min(count, start + 5000)):
                subject = f"subject-{seq % subjects}"
                sends.append(await producer.send(
                    settings.events_topic, event(project, subject, seq),
                    key=subject_key(project, subject),
                    headers=[("type", b"memory.submitted"), ("v", b"1")]))
            await asyncio.gather(*sends)
            if report is not None:
                report(min(count, start + 5000), count)
    finally:
        await producer.stop()
    return time.perf_counter() - began


async def fresh_database(admin_dsn: str, name: str) -> str:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    conn = await connect_plain(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def delete_topics(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.resolved_bootstrap())
    await admin.start()
    try:
        await admin.delete_topics([settings.events_topic, settings.changes_topic,
                                   settings.dlq_topic])
    finally:
        await admin.close()


async def progress(dsn: str, settings: Settings, total: int, timeout: float,
                   report: Callable[[int, int], None] | None = None) -> list[tuple[float, int]]:
    """(seconds, events applied) samples until the worker's offsets reach the end of the log."""
    conn, samples, began = await asyncpg.connect(dsn), [], time.perf_counter()
    try:
        while time.perf_counter() - began < timeout:
            done = await conn.fetchval(
                "SELECT coalesce(sum(next_offset), 0) FROM projection_offsets WHERE consumer = $1",
                settings.worker_group)
            samples.append((time.perf_counter() - began, int(done)))
            if report is not None:
                report(int(done), total)
            if done >= total:
                return samples
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise TimeoutError(f"projector reached {samples[-1][1]} of {total}")


def worker_env(settings: Settings, home: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": settings.resolved_database_url(),
            "KAFKA_BOOTSTRAP_SERVERS": settings.resolved_bootstrap(),
            "CORE_TOPIC_PREFIX": settings.topic_prefix, "CORE_WORKER_GROUP": settings.worker_group,
            "CORE_PARTITIONS": str(settings.partitions), "CORE_HOME": home}
