"""The projection worker: a Faust app whose agent folds `core.events` into Postgres.

Faust acknowledges a message even when the agent raises, so the agent never raises for a
database problem: the applier retries transient errors and turns permanent ones into
outcomes or dead letters. Postgres offsets, not Kafka commits, decide what is applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import faust
import orjson

from core.db import create_pool
from core.kafka import new_producer
from core.settings import Settings
from core.telemetry.projector import observe_batch, start_projector_telemetry
from projections.applier import Applier, BatchResult, Record
from projections.claim_extraction_agent import register_claim_extraction
from projections.handlers import BATCHERS, HANDLERS
from projections.outbox_relay import OutboxRelay

log = logging.getLogger("core.projections.worker")
BATCH_WINDOW_S = 0.02


def create_app(settings: Settings) -> faust.App:
    app = faust.App(
        settings.worker_group,
        broker=f"kafka://{settings.resolved_bootstrap()}",
        web_enabled=False,
        topic_disable_leader=True,
        store="memory://",
        datadir=str(settings.core_home / "faust"),
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=10,
        broker_heartbeat_interval=1,
        broker_rebalance_timeout=10,
        producer_acks=-1,
    )
    topic = app.topic(settings.events_topic, value_type=bytes, key_type=bytes,
                      value_serializer="raw", key_serializer="raw")

    @app.agent(topic, concurrency=1)
    async def project(stream: Any) -> None:
        runtime = await ProjectorRuntime.start(settings)
        async for events in stream.take_events(settings.projector_batch_max, BATCH_WINDOW_S):
            await runtime.apply([_record(e) for e in events])

    register_claim_extraction(app, settings)
    return app


def _record(event: Any) -> Record:
    message = event.message
    return Record(message.topic, message.partition, message.offset, message.key, message.value)


class ProjectorRuntime:
    """Pool, producer and relay of one worker process, created on the agent's loop."""

    def __init__(self, settings: Settings, applier: Applier, relay: OutboxRelay,
                 producer: Any) -> None:
        self.settings = settings
        self.applier = applier
        self.relay = relay
        self.producer = producer

    @classmethod
    async def start(cls, settings: Settings) -> ProjectorRuntime:
        pool = await create_pool(settings.resolved_database_url(), max_size=4)
        producer = new_producer(settings)
        await producer.start()
        relay = OutboxRelay(pool, producer, settings.changes_topic)
        asyncio.ensure_future(relay.run())
        start_projector_telemetry(settings, pool)
        return cls(settings, Applier(pool, settings.worker_group, HANDLERS,
                                         batchers=BATCHERS), relay, producer)

    async def apply(self, records: list[Record]) -> None:
        started = time.perf_counter()
        result = await self.applier.apply(records)
        await self._dead_letter(result)
        if result.changes:
            self.relay.wake()
        observe_batch(records, result, started)

    async def _dead_letter(self, result: BatchResult) -> None:
        for letter in result.dead_letters:
            log.error("dead-lettering %s[%d]@%d: %s", letter.record.topic,
                      letter.record.partition, letter.record.offset, letter.reason)
            await self.producer.send_and_wait(
                self.settings.dlq_topic, letter.record.value, key=letter.record.key,
                headers=[("reason", letter.reason.encode()),
                         ("origin", orjson.dumps([letter.record.topic, letter.record.partition,
                                                  letter.record.offset]))])


def run_worker(settings: Settings) -> None:
    import mode.loop

    mode.loop.use("uvloop")  # before Faust creates its loop
    (settings.core_home / "faust").mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="INFO", quiet=True)
    worker.execute_from_commandline()
