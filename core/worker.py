"""Composition root of a worker process: a Faust app with two agents.

* `project` folds `core.events` into Postgres through the projections' applier.
* `extract_claims` turns `memory.extraction_requested` changes into `claims.extracted`
  events (command-side code, outside the fold).

Faust acknowledges a message even when the agent raises, so the agents never raise for a
database problem: the applier retries transient errors and turns permanent ones into
outcomes or dead letters. Postgres offsets, not Kafka commits, decide what is applied.
The outbox relay, the metrics sampler and the ANALYZE loop are supervised tasks of this
process: a death is logged, counted and restarted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import asyncpg
import faust
import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import start_http_server

from commands.claim_extraction import ClaimExtractor
from kernel.ai.wiring import AIWiring, build_ai
from kernel.db import create_pool
from kernel.kafka import new_producer
from kernel.settings import Settings
from kernel.tasks import SupervisedTask
from projections.applier import Applier, BatchResult, Record
from projections.handlers import BATCHERS, HANDLERS
from projections.maintenance import GrowthAnalyzer
from projections.outbox_relay import OutboxRelay
from projections.telemetry import Sampler, observe_batch

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
    services = WorkerServices(settings)
    events = _raw_topic(app, settings.events_topic)
    changes = _raw_topic(app, settings.changes_topic)

    @app.agent(events, concurrency=1)
    async def project(stream: Any) -> None:
        runtime = await services.projector()
        async for batch in stream.take_events(settings.projector_batch_max, BATCH_WINDOW_S):
            await runtime.apply([_record(e) for e in batch])

    @app.agent(changes, concurrency=1)
    async def extract_claims(stream: Any) -> None:
        extractor = await services.extractor()
        async for value in stream:
            await extractor.handle(value)

    return app


def _raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, value_type=bytes, key_type=bytes, value_serializer="raw",
                     key_serializer="raw")


def _record(event: Any) -> Record:
    message = event.message
    return Record(message.topic, message.partition, message.offset, message.key, message.value)


class WorkerServices:
    """Pool, producer, AI clients and background tasks of one worker process, built once on
    Faust's loop by whichever agent starts first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = asyncio.Lock()
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.ai: AIWiring | None = None
        self.relay: OutboxRelay | None = None
        self.tasks: list[SupervisedTask] = []

    async def projector(self) -> ProjectorRuntime:
        pool, producer = await self._started()
        assert self.relay is not None
        applier = Applier(pool, self.settings.worker_group, HANDLERS, batchers=BATCHERS)
        return ProjectorRuntime(self.settings, applier, self.relay, producer)

    async def extractor(self) -> ClaimExtractor:
        pool, producer = await self._started()
        async with self.lock:
            if self.ai is None:
                self.ai = build_ai(self.settings, announce=False)
        return ClaimExtractor(self.ai.extraction, self.ai.embedder.embed, pool, producer,
                              self.settings.events_topic)

    async def _started(self) -> tuple[asyncpg.Pool, AIOKafkaProducer]:
        async with self.lock:
            if self.pool is None or self.producer is None:
                await self._start()
            assert self.pool is not None and self.producer is not None
            return self.pool, self.producer

    async def _start(self) -> None:
        settings = self.settings
        self.pool = await create_pool(settings.resolved_database_url(), max_size=6)
        self.producer = new_producer(settings)
        await self.producer.start()
        self.relay = OutboxRelay(self.pool, self.producer, settings.changes_topic)
        self.tasks.append(SupervisedTask("outbox-relay", self.relay.run).start())
        analyzer = GrowthAnalyzer(self.pool, settings.analyze_growth, settings.analyze_check_s)
        self.tasks.append(SupervisedTask("analyze", analyzer.run).start())
        if settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, addr=settings.host)
            self.tasks.append(SupervisedTask("sampler", Sampler(settings, self.pool).run).start())


class ProjectorRuntime:
    def __init__(self, settings: Settings, applier: Applier, relay: OutboxRelay,
                 producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.applier = applier
        self.relay = relay
        self.producer = producer

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
