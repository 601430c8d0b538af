"""Runs the projector and replay scenarios (see `bench.projector`)."""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.context import Bench
from bench.memory import cpu_seconds
from bench.projector import (
    delete_topics,
    drop_database,
    fresh_database,
    produce,
    progress,
    worker_env,
)
from bench.stats import Scenario
from core.progress import Callback, Reporter
from kernel.heap import settle_heap
from kernel.kafka import end_offsets, ensure_topics
from kernel.runtime.process import ChildProcess
from kernel.settings import Settings
from projections.replay import Replayer, StopRule, create_projection_schema


def admin_dsn(database_url: str) -> str:
    return database_url.rsplit("/", 1)[0] + "/postgres"


async def run_projector(bench: Bench) -> None:
    name, count = f"core_bench_{bench.run_id}", bench.options.projector_events
    admin = admin_dsn(bench.stack.database_url)
    dsn = await fresh_database(admin, name)
    settings = bench.stack.settings(DATABASE_URL=dsn, CORE_TOPIC_PREFIX=f"bench{bench.run_id}",
                                    CORE_WORKER_GROUP=f"bench-{bench.run_id}")
    home = tempfile.mkdtemp(prefix="core-bench-worker-")
    try:
        await ensure_topics(settings)
        with Reporter() as report:  # a progress bar per phase on a terminal, else silent
            produced = await produce(settings, f"bench-{bench.run_id}-proj", count,
                                     bench.options.subjects, report.phase("produce"))
            bench.note(f"produced {count} events in {produced:.1f} s")
            total = sum((await end_offsets(settings, settings.events_topic)).values())
            await _catch_up(bench, settings, dsn, home, total, report.phase("projector"))
            await _replay(bench, settings, dsn, total, report.phase("replay"))
    finally:
        if (Path(home) / "worker.log").exists():
            (bench.out / "logs").mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(home) / "worker.log", bench.out / "logs" / "projector-worker.log")
        shutil.rmtree(home, ignore_errors=True)
        await drop_database(admin, name)
        await delete_topics(settings)


async def _catch_up(bench: Bench, settings: Settings, dsn: str, home: str, total: int,
                    report: Callback) -> None:
    worker = ChildProcess.start("bench-worker", [sys.executable, "-m", "core.cli", "worker"],
                                env=worker_env(settings, home),
                                log_path=Path(home) / "worker.log")
    bench.memory.add("projector-worker", worker.pid)
    postgres = bench.stack.pids.get("postgres", [])
    pg_before = cpu_seconds(postgres)
    try:
        samples = await progress(dsn, settings, total, timeout=600, report=report)
        bench.memory.sample()
        cpu = {"worker_cpu_ms_per_event": round(cpu_seconds([worker.pid]) * 1000 / total, 3)}
        if postgres:
            cpu["postgres_cpu_ms_per_event"] = round(
                (cpu_seconds(postgres) - pg_before) * 1000 / total, 3)
    finally:
        worker.stop()
    first = next((t for t, done in samples if done > 0), samples[-1][0])
    last_done = next(t for t, done in samples if done >= total)
    steady = last_done - first
    bench.record(Scenario(
        name=f"projector.{total}", group="projector", requests=total,
        duration_s=round(steady, 2), throughput=round(total / steady, 1) if steady else 0.0,
        unit="events/s", extra={"with_startup_s": round(last_done, 2),
                                "startup_s": round(first, 2), **cpu}))


async def _replay(bench: Bench, settings: Settings, dsn: str, total: int,
                  report: Callback) -> None:
    schema = f"replay_{bench.run_id}"
    conn = await asyncpg.connect(dsn)
    try:
        await create_projection_schema(conn, schema)
    finally:
        await conn.close()
    threshold = gc.get_threshold()
    settle_heap()  # as `core history replay` does
    try:
        began = time.perf_counter()
        summary = await Replayer(settings, schema, progress=report).run(StopRule())
        seconds = time.perf_counter() - began
    finally:
        gc.set_threshold(*threshold)
    bench.record(Scenario(
        name=f"replay.{total}", group="replay", requests=summary.events,
        duration_s=round(seconds, 2), throughput=round(summary.events / seconds, 1),
        unit="events/s", extra={"applied": summary.applied}))
