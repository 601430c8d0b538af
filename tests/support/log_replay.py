"""Folds a system's whole events topic into a fresh database, as `core replay` would, so a
test can compare projection rows of the live database with those of the replay."""

from __future__ import annotations

import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from core.db import create_pool
from core.migrate import migrate
from projections.applier import Applier, Record
from projections.handlers import HANDLERS
from tests.support.system import System


async def read_log(system: System) -> list[Record]:
    settings = system.settings()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.resolved_bootstrap(),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(settings.events_topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Record] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                records += [Record(m.topic, m.partition, m.offset, m.key, m.value)
                            for m in batch.get(tp, [])]
        return records
    finally:
        await consumer.stop()


async def replay_into_fresh_database(system: System) -> str:
    """Creates a database, migrates it, applies the whole log; returns its DSN."""
    name = f"{system.database}_replay_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(system.infra.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = system.infra.dsn(name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await create_pool(dsn, max_size=2)
    try:
        applier = Applier(pool, "replay", HANDLERS, emit_changes=False, notify_outcomes=False)
        await applier.apply(await read_log(system))
    finally:
        await pool.close()
    return dsn


async def table_rows(dsn: str, table: str, project_id: str,
                     order_by: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            f"SELECT * FROM {table} WHERE project_id = $1 ORDER BY {order_by}", project_id)
        return [dict(r) for r in rows]
    finally:
        await conn.close()
