"""What every scenario gets: the target, the run's options, a place to put its results."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.client import Target
from bench.memory import MemoryWatch, cpu_seconds
from bench.stack import Stack
from bench.stats import Scenario
from kernel.kafka import end_offsets


@dataclass(frozen=True)
class Options:
    duration_s: float = 10.0
    max_requests: int = 200_000
    write_levels: tuple[int, ...] = (1, 8, 32, 64)
    read_concurrency: int = 16
    read_sizes: tuple[int, ...] = (10_000, 100_000)
    sse_subscribers: int = 1000
    sse_rate: float = 200.0
    projector_events: int = 50_000
    subjects: int = 64
    only: frozenset[str] = frozenset()


@dataclass
class Bench:
    stack: Stack
    target: Target
    options: Options
    memory: MemoryWatch
    out: Path = Path("bench-results")
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    results: list[Scenario] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def project(self, name: str) -> bytes:
        return f"x-project-id: bench-{self.run_id}-{name}\r\n".encode()

    def record(self, scenario: Scenario) -> None:
        self.results.append(scenario)
        self.memory.sample()
        from bench.report import print_row

        print_row(scenario)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def cpu_mark(self) -> dict[str, float]:
        """CPU seconds used so far by each known process role (API, worker, Postgres...)."""
        return {role: cpu_seconds(pids) for role, pids in self.memory.pids.items()}

    def cpu_per_op(self, mark: dict[str, float], ops: int) -> dict[str, float]:
        """CPU milliseconds per operation and role since `mark` (load-independent cost)."""
        now = self.cpu_mark()
        return {f"cpu_ms_per_op_{role}": round((now[role] - mark.get(role, 0.0)) * 1000 / ops, 3)
                for role in now if ops}

    def wants(self, scenario: str) -> bool:
        return not self.options.only or scenario in self.options.only

    async def caught_up(self, timeout: float = 300.0) -> float:
        """Waits until the live projector reached the end of the events topic; seconds."""
        settings = self.stack.settings()
        began = time.perf_counter()
        ends = await end_offsets(settings, settings.events_topic)
        conn = await asyncpg.connect(self.stack.database_url)
        try:
            while time.perf_counter() - began < timeout:
                rows = await conn.fetch(
                    "SELECT partition, next_offset FROM projection_offsets WHERE consumer = $1 "
                    "AND topic = $2", settings.worker_group, settings.events_topic)
                done = {r["partition"]: r["next_offset"] for r in rows}
                if all(done.get(p, 0) >= end for p, end in ends.items()):
                    await self._changes_drained(conn, began + timeout)
                    return time.perf_counter() - began
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        raise TimeoutError("the projector did not catch up")

    async def _changes_drained(self, conn: asyncpg.Connection, deadline: float) -> None:
        """Also wait for the outbox relay and the claim extraction queue, so that a backlog
        of one scenario does not slow the next one down."""
        while time.perf_counter() < deadline:
            pending = await conn.fetchval(
                "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM "
                "extraction_requests)")
            if not pending:
                return
            await asyncio.sleep(0.2)
