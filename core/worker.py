"""Composition root of a worker process: a Faust app whose `project` agent folds
`core.events` into Postgres through the projections' live projector, and the supervised
tasks beside it: the outbox relay, the position check, the claim extraction queue
(command-side code, outside the fold), metrics sampling and ANALYZE.

Faust acknowledges a message even when the agent raises, so the agents never raise for a
database problem: the applier retries transient errors and turns permanent ones into
outcomes or dead letters. Postgres offsets, not Kafka commits, decide what is applied.
A supervised task's death is logged, counted and restarted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import faust
from aiokafka import AIOKafkaProducer
from prometheus_client import start_http_server

from commands.claim_extraction import ClaimExtractor, decided_at_write
from core.intake import command_intake
from core.stream_batches import take_available
from kernel.ai.wiring import AIWiring, build_ai
from kernel.db import create_pool
from kernel.heap import settle_heap
from kernel.kafka import new_producer
from kernel.settings import Settings
from kernel.shredding import KeyRing
from kernel.tasks import SupervisedTask
from kernel.telemetry import tracing
from projections.applier import Applier, BatchResult, Record
from projections.handlers import BATCHERS, HANDLERS
from projections.live import LiveProjector
from projections.maintenance import GrowthAnalyzer
from projections.outbox_relay import OutboxRelay
from projections.telemetry import Sampler, observe_batch
from schemas.changes import MEMORY_EXTRACTION_REQUESTED
from schemas.claim_events import ClaimAsserted

log = logging.getLogger("core.projections.worker")


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
        broker_heartbeat_interval=3,  # a third of the session timeout, Kafka's own ratio
        broker_rebalance_timeout=10,
        producer_acks=-1,
    )
    tracing.setup("core-worker")
    services = WorkerServices(settings)
    events = _raw_topic(app, settings.events_topic)

    @app.agent(events, concurrency=1)
    async def project(stream: Any) -> None:
        runtime = await services.projector(lambda: _assigned(app, settings.events_topic))
        async for batch in take_available(stream, settings.projector_batch_max):
            await runtime.apply([_record(e) for e in batch])

    @app.on_partitions_assigned.connect
    async def on_assigned(_sender: Any, /, *args: Any, signal: Any, **_kw: Any) -> None:
        assigned: set[Any] = args[0] if args else set()
        services.assigned({tp.partition for tp in assigned
                           if tp.topic == settings.events_topic})

    return app


def _raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, value_type=bytes, key_type=bytes, value_serializer="raw",
                     key_serializer="raw")


def _assigned(app: faust.App, topic: str) -> set[int]:
    try:
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}
    except Exception:  # no consumer yet: nothing assigned
        return set()


def _record(event: Any) -> Record:
    message = event.message
    headers = tuple(message.headers or ()) if tracing.enabled() else ()
    return Record(message.topic, message.partition, message.offset, message.key, message.value,
                  headers)


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
        self.extractor: ClaimExtractor | None = None
        self.runtime: ProjectorRuntime | None = None
        self.live: LiveProjector | None = None
        self.pending_assignment: set[int] = set()
        self.tasks: list[SupervisedTask] = []
        self.keyring = KeyRing.from_settings(settings)

    def assigned(self, partitions: set[int]) -> None:
        if self.live is None:
            self.pending_assignment |= partitions
        else:
            self.live.assigned(partitions)

    async def projector(self, assignment: Callable[[], set[int]]) -> ProjectorRuntime:
        pool, _producer = await self._started()
        assert self.relay is not None
        async with self.lock:
            if self.live is None:
                settings = self.settings
                applier = Applier(pool, settings.worker_group, HANDLERS, batchers=BATCHERS,
                                  idempotency_ttl_s=settings.idempotency_ttl_s,
                                  keyring=self.keyring)
                self.live = LiveProjector(applier, settings.resolved_bootstrap(),
                                          settings.events_topic, settings.projector_batch_max)
                self.live.assigned(self.pending_assignment | assignment())
                self.runtime = runtime = ProjectorRuntime(self.live, self.relay, self.extractor)

                async def watch() -> None:
                    assert self.live is not None
                    await self.live.watch(assignment, settings.position_check_s,
                                          runtime.applied)

                self.tasks.append(SupervisedTask("position-check", watch).start())
        assert self.runtime is not None
        return self.runtime


    async def _started(self) -> tuple[asyncpg.Pool, AIOKafkaProducer]:
        async with self.lock:
            if self.pool is None or self.producer is None:
                await self._start()
            assert self.pool is not None and self.producer is not None
            return self.pool, self.producer

    async def _start(self) -> None:
        settings = self.settings
        self.pool = await create_pool(settings.resolved_database_url(), max_size=6)
        if self.keyring is not None:
            self.keyring.listen(settings.resolved_database_url())
        self.producer = new_producer(settings)
        await self.producer.start()
        self.relay = OutboxRelay(self.pool, self.producer, settings.changes_topic,
                                 settings.dlq_topic, self.keyring)
        self.tasks.append(SupervisedTask("outbox-relay", self.relay.run).start())
        self.ai = build_ai(settings, announce=False)
        self.extractor = ClaimExtractor(self.ai.extraction, self.ai.embedder.embed, self.pool,
                                        self.producer, settings.events_topic,
                                        seal=self.keyring.sealer(self.pool) if self.keyring
                                        else None)
        self.tasks.append(SupervisedTask("claim-extraction", self.extractor.run).start())
        ai = self.ai

        async def decide(memory_id: str, text: str) -> list[ClaimAsserted] | None:
            return await decided_at_write(ai.extraction, ai.embedder.embed, memory_id, text)

        intake = command_intake(settings, self.pool, ai.embedder.embed_many, self.producer,
                                decide)
        self.tasks.append(SupervisedTask("command-intake", intake.run).start())
        analyzer = GrowthAnalyzer(self.pool, settings.analyze_growth, settings.analyze_check_s)
        self.tasks.append(SupervisedTask("analyze", analyzer.run).start())
        if settings.worker_metrics_port:
            start_http_server(settings.worker_metrics_port, addr=settings.host)
            self.tasks.append(SupervisedTask("sampler", Sampler(settings, self.pool).run).start())
        settle_heap()


class ProjectorRuntime:
    """What the `project` agent calls per delivered batch. It never raises: an unexpected
    failure is logged, and the records come back through the gap check (Postgres holds the
    position, so nothing the stream moved past is lost)."""

    def __init__(self, live: LiveProjector, relay: OutboxRelay,
                 extractor: ClaimExtractor | None) -> None:
        self.live = live
        self.relay = relay
        self.extractor = extractor

    async def apply(self, records: list[Record]) -> None:
        started = time.perf_counter()
        try:
            with tracing.projector_batch(records):
                results = await self.live.apply(records)
        except Exception:
            log.exception("projector batch failed; its records are re-read from the log")
            return
        self.applied(results)
        observe_batch(records, results[-1], started)
        log.debug("batch of %d records: %d applied, %d skipped, %d changes in %.1f ms",
                  len(records), sum(r.applied for r in results),
                  sum(r.skipped for r in results), sum(len(r.changes) for r in results),
                  (time.perf_counter() - started) * 1000)

    def applied(self, results: list[BatchResult]) -> None:
        changed = any(r.changes for r in results)
        parked = any(r.dead_letters for r in results)
        if changed or parked:
            self.relay.wake(changes=changed, dead_letters=parked)
        if self.extractor is not None and any(c.type == MEMORY_EXTRACTION_REQUESTED
                                              for r in results for c in r.changes):
            self.extractor.wake()  # only the LLM engine queues work for it


def run_worker(settings: Settings) -> None:
    import mode.loop

    mode.loop.use("uvloop")  # before Faust creates its loop
    (settings.core_home / "faust").mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # CORE_DEBUG: the handler passes DEBUG; third-party loggers stay at INFO (core.cli_startup)
    worker = faust.Worker(app, loglevel="DEBUG" if settings.debug else "INFO", quiet=True)
    worker.execute_from_commandline()
