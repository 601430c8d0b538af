"""Fault drills: a bounded load of writes with unique Idempotency-Keys while a fault is
injected, then exact counts — every acknowledged write present exactly once, the projector
caught up (lag 0), and SSE complete, without repeats within a stream, in log order per
subject. The drills share one deployment of their own (Postgres and Kafka they may kill).
`python -m bench --only drills` runs the same drills at full load and prints the table."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from kernel.kafka import end_offsets, new_producer, subject_key
from tests.support.drills import DrillResult, LoadReport, StreamWatch, WriteLoad, count_applied
from tests.support.fault_infra import REPLICATION, FaultInfra
from tests.support.system import System, start_system

pytestmark = pytest.mark.integration
LOAD = int(os.environ.get("CORE_DRILL_WRITES", "150"))
RESULTS: dict[str, DrillResult] = {}


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultInfra]:
    started = FaultInfra.start()
    try:
        yield started
    finally:
        started.stop()
        for name, result in RESULTS.items():
            print(result.row(name))


@pytest.fixture
async def system(faults: FaultInfra) -> AsyncIterator[System]:
    started = await start_system(faults, env=REPLICATION)
    try:
        yield started
    finally:
        started.stop()


Fault = Callable[[System, asyncio.Event], Awaitable[None]]


async def drill(system: System, name: str, fault: Fault, *, total: int = LOAD,
                text_template: str | None = None) -> tuple[DrillResult, LoadReport]:
    """Run the load and the fault together, recover, and count."""
    project = f"drill-{name}-{uuid.uuid4().hex[:6]}"
    watch = StreamWatch(system.url, system.api_key, project).start()
    await asyncio.wait_for(watch.connected.wait(), 30)
    load = WriteLoad(system.url, system.api_key, project, total=total)
    if text_template is not None:
        load.text_template = text_template
    progress = asyncio.Event()
    report, _ = await asyncio.gather(load.run(progress), _after(progress, fault(system, progress)))
    assert not report.unexpected, report.unexpected[:3]
    assert not report.unacknowledged, f"{len(report.unacknowledged)} writes never acknowledged"
    await system.wait_projected(timeout=120)
    await _wait_relayed(system)
    await _settle_stream(watch, system, project)
    await system.wait_projected(timeout=120)  # claims.extracted events produced meanwhile
    await watch.stop()
    result = await count_applied(system.dsn, project, report, await lag(system), watch)
    RESULTS[name] = result
    assert result.clean, result.row(name)
    return result, report


async def _after(progress: asyncio.Event, fault: Awaitable[None]) -> None:
    await asyncio.wait_for(progress.wait(), 120)
    await fault


async def _wait_relayed(system: System) -> None:
    """The outbox relayed and the extraction queue drained (its events then projected)."""
    conn = await asyncpg.connect(system.dsn)
    try:
        for _ in range(600):
            if not await conn.fetchval("SELECT (SELECT count(*) FROM outbox) + "
                                       "(SELECT count(*) FROM extraction_requests)"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the outbox was never drained")
    finally:
        await conn.close()


async def _settle_stream(watch: StreamWatch, system: System, project: str) -> None:
    """Wait until the stream delivered as many created memories as the table holds."""
    conn = await asyncpg.connect(system.dsn)
    try:
        expected = await conn.fetchval(
            "SELECT count(*) FROM memories WHERE project_id = $1", project)
    finally:
        await conn.close()
    for _ in range(600):
        if len({m for _, m in watch.created()}) >= expected:
            return
        await asyncio.sleep(0.1)


async def lag(system: System) -> int:
    settings = system.settings()
    ends = await end_offsets(settings, settings.events_topic)
    conn = await asyncpg.connect(system.dsn)
    try:
        rows = await conn.fetch("SELECT partition, next_offset FROM projection_offsets WHERE "
                                "consumer = $1 AND topic = $2", settings.worker_group,
                                settings.events_topic)
    finally:
        await conn.close()
    applied = {r["partition"]: r["next_offset"] for r in rows}
    return sum(max(0, end - applied.get(p, 0)) for p, end in ends.items())


async def test_worker_sigkilled_under_load(system: System) -> None:
    async def fault(target: System, _progress: asyncio.Event) -> None:
        target.kill_worker()
        await asyncio.sleep(0.5)
        target.start_worker()

    await drill(system, "worker-sigkill", fault)


async def test_kafka_sigkilled_and_restarted(system: System, faults: FaultInfra) -> None:
    async def fault(_target: System, _progress: asyncio.Event) -> None:
        faults.kill_kafka()
        await asyncio.sleep(2)
        await asyncio.to_thread(faults.restart_kafka)

    await drill(system, "kafka-sigkill", fault)


async def test_one_broker_of_three_sigkilled(system: System, faults: FaultInfra) -> None:
    async def fault(_target: System, _progress: asyncio.Event) -> None:
        faults.cluster.kill(2)

    try:
        _, report = await drill(system, "broker-sigkill", fault)
    finally:
        await asyncio.to_thread(faults.cluster.restart, 2)
    print(f"longest pause between acknowledged writes: {report.longest_pause_s:.2f}s")


async def test_postgres_sigkilled_and_restarted(system: System, faults: FaultInfra) -> None:
    async def fault(_target: System, _progress: asyncio.Event) -> None:
        faults.kill_postgres()
        await asyncio.sleep(2)
        await asyncio.to_thread(faults.restart_postgres)

    await drill(system, "postgres-sigkill", fault)


async def test_api_sigkilled_after_produce(system: System) -> None:
    async def fault(target: System, _progress: asyncio.Event) -> None:
        target.kill_api()
        await asyncio.to_thread(target.start_api)

    await drill(system, "api-sigkill", fault)


async def test_a_second_worker_joins_and_leaves(system: System) -> None:
    async def fault(target: System, _progress: asyncio.Event) -> None:
        second = System(target.infra, target.name, target.env_overrides, port=target.port)
        second.start_worker()
        await asyncio.sleep(3)
        assert second.worker is not None
        second.worker.stop(timeout=15)

    await drill(system, "rebalance", fault)


async def test_poison_events_among_normal_ones(system: System) -> None:
    settings = system.settings()
    long_id = os.urandom(4000).hex()  # incompressible: over any btree index row limit
    poison = [_event(system, long_id, "a long subject"), _event(system, "s0", "nul \u0000"),
              _event(system, "s1", "fine", project=long_id)]

    async def fault(_target: System, _progress: asyncio.Event) -> None:
        producer = new_producer(settings)
        await producer.start()
        try:
            for project, subject, value in poison:
                await producer.send_and_wait(settings.events_topic, value,
                                             key=subject_key(project, subject))
        finally:
            await producer.stop()

    await drill(system, "poison", fault)
    dead = await _dead_letters(system)
    assert {p[2] for p in poison} <= dead, "every poison record is in the DLQ"


def _event(system: System, subject: str, text: str, project: str = "poison") -> tuple[str, str,
                                                                                         bytes]:
    import orjson

    body = {"event_id": str(uuid.uuid4()), "type": "memory.submitted", "v": 1,
            "project_id": project, "subject_id": subject,
            "occurred_at": "2026-12-01T00:00:00.000Z", "actor": "faulty-producer",
            "payload": {"id": f"mem_{uuid.uuid4().hex}", "text": text}}
    return project, subject, orjson.dumps(body)


async def _dead_letters(system: System) -> set[bytes]:
    from projections.log_reader import read_range

    settings = system.settings()
    ends = await end_offsets(settings, settings.dlq_topic)
    found: set[bytes] = set()
    async for batch in read_range(settings.resolved_bootstrap(), settings.dlq_topic, {}, ends):
        found.update(r.value for r in batch)
    return found


async def test_extraction_survives_postgres_down(system: System, faults: FaultInfra) -> None:
    async def fault(_target: System, progress: asyncio.Event) -> None:
        faults.kill_postgres()
        await asyncio.sleep(2)
        await asyncio.to_thread(faults.restart_postgres)

    _, report = await drill(system, "extraction-pg-down", fault, total=60,
                            text_template="I live in Town{index}x{token}")
    conn = await asyncpg.connect(system.dsn)
    try:
        for _ in range(600):
            missing = await conn.fetchval(
                "SELECT count(*) FROM memories m WHERE m.project_id LIKE 'drill-extraction%' "
                "AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.source_memory_id = m.id)")
            if missing == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    assert missing == 0, f"{missing} memories never got their claims"
    assert len(report.acknowledged) == 60


async def test_backup_writes_restore_with_kafka_kept(system: System) -> None:
    backup_dir = Path(system.infra.home) / f"backup-{system.name}"

    async def fault(target: System, progress: asyncio.Event) -> None:
        await asyncio.to_thread(_core, target, "backup", "--out", str(backup_dir))
        await asyncio.sleep(1.5)  # more writes land after the backup
        await target.recreate_database()
        await asyncio.to_thread(_core, target, "restore", "--from", str(backup_dir))

    await drill(system, "backup-restore", fault, total=LOAD * 2)


def _core(system: System, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "core.cli", *args],
                          env={**os.environ, **system.env()}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout

