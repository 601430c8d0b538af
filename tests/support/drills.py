"""Fault drills: a bounded write load with unique Idempotency-Keys that retries like a
careful client, an SSE watcher that reconnects with Last-Event-ID, and exact counts after.

A write is *acknowledged* when the API answered 201, 200 or 202 (accepted into the log).
It is retried with the same key on connection errors, timeouts, 5xx, 409 and 429. After the
fault and the recovery, every acknowledged write must be in `memories` exactly once (each
write has its own text, so a row applied twice shows as two rows of one text), the
projector must have caught up with the log (lag 0), and SSE must have delivered every
created memory at least once across reconnects, never twice within one connection, in log
order per subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

EVENTS_PATH = "/api/v1/events/memories"
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Write:
    index: int
    key: str
    subject: str
    text: str


@dataclass
class LoadReport:
    acknowledged: list[Write] = field(default_factory=list)
    unacknowledged: list[Write] = field(default_factory=list)
    unexpected: list[tuple[Write, int, str]] = field(default_factory=list)
    retries: int = 0
    ack_times: list[float] = field(default_factory=list)

    @property
    def longest_pause_s(self) -> float:
        times = sorted(self.ack_times)
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


@dataclass
class WriteLoad:
    url: str
    api_key: str
    project: str
    total: int = 150
    concurrency: int = 8
    subjects: int = 5
    give_up_s: float = 120.0
    extra: dict[str, Any] = field(default_factory=dict)
    text_template: str = "drill fact {index} {token}"

    def writes(self) -> list[Write]:
        token = uuid.uuid4().hex[:8]
        return [Write(i, f"drill-{self.project}-{i}", f"s{i % self.subjects}",
                      self.text_template.format(index=i, token=token))
                for i in range(self.total)]

    async def run(self, progress: asyncio.Event | None = None) -> LoadReport:
        """Sends every write; `progress` is set once a third of them are acknowledged."""
        report = LoadReport()
        queue: asyncio.Queue[Write] = asyncio.Queue()
        for write in self.writes():
            queue.put_nowait(write)
        headers = {"x-api-key": self.api_key, "x-project-id": self.project}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=20) as client:
            async def sender() -> None:
                while not queue.empty():
                    await self._send(client, queue.get_nowait(), report)
                    if progress is not None and len(report.acknowledged) >= self.total // 3:
                        progress.set()

            await asyncio.gather(*(sender() for _ in range(self.concurrency)))
        return report

    async def _send(self, client: httpx.AsyncClient, write: Write, report: LoadReport) -> None:
        deadline = time.monotonic() + self.give_up_s
        delay = 0.05
        while time.monotonic() < deadline:
            try:
                response = await client.post(
                    "/api/v1/memories", headers={"Idempotency-Key": write.key},
                    json={"subject_id": write.subject, "text": write.text, **self.extra})
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code in (200, 201, 202):
                report.acknowledged.append(write)
                report.ack_times.append(time.monotonic())
                return
            if response is not None and response.status_code not in RETRY_STATUSES:
                report.unexpected.append((write, response.status_code, response.text[:200]))
                return
            report.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        report.unacknowledged.append(write)


@dataclass
class StreamWatch:
    """Reads the project's SSE stream, reconnecting with Last-Event-ID after any break."""

    url: str
    api_key: str
    project: str
    connections: list[list[tuple[str, str]]] = field(default_factory=list)
    last_id: str | None = None
    task: asyncio.Task[None] | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    def start(self) -> StreamWatch:
        self.task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def created(self) -> list[tuple[str, str]]:
        return [item for connection in self.connections for item in connection]

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError, OSError):
                await self._read_once()
            await asyncio.sleep(0.2)

    async def _read_once(self) -> None:
        headers = {"x-api-key": self.api_key, "x-project-id": self.project}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        seen: list[tuple[str, str]] = []
        self.connections.append(seen)
        async with httpx.AsyncClient(base_url=self.url, timeout=None) as client, \
                client.stream("GET", EVENTS_PATH, headers=headers) as response:
            if response.status_code != 200:
                return
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                self._frame(fields, seen)
                fields = {}

    def _frame(self, fields: dict[str, str], seen: list[tuple[str, str]]) -> None:
        if fields.get("event") == "connected":
            self.connected.set()
        if "id" in fields:
            self.last_id = fields["id"]
        if fields.get("event") == "memory.created":
            data = json.loads(fields["data"])
            seen.append((data["subject_id"], data["id"]))


@dataclass
class DrillResult:
    acknowledged: int
    missing: list[str]
    duplicated: list[str]
    lag: int
    sse_missing: int = 0
    sse_twice_in_one_stream: int = 0
    sse_out_of_order: int = 0
    longest_pause_s: float = 0.0

    def row(self, name: str) -> str:
        return (f"{name:<24} acked={self.acknowledged:<5} missing={len(self.missing):<3} "
                f"duplicated={len(self.duplicated):<3} lag={self.lag:<3} "
                f"sse_missing={self.sse_missing} sse_twice={self.sse_twice_in_one_stream} "
                f"sse_order={self.sse_out_of_order} longest_pause={self.longest_pause_s:.2f}s")

    @property
    def clean(self) -> bool:
        return not (self.missing or self.duplicated or self.lag or self.sse_missing
                    or self.sse_twice_in_one_stream or self.sse_out_of_order)


async def count_applied(dsn: str, project: str, report: LoadReport, lag: int,
                        watch: StreamWatch | None = None) -> DrillResult:
    """Every acknowledged write exactly once; SSE complete, without repeats, in log order."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT text, count(*) AS n FROM memories WHERE project_id = $1 "
                                "GROUP BY text", project)
        order = await conn.fetch(  # a retried write's second event creates nothing: join
            "SELECT e.subject_id, m.id FROM subject_events e JOIN memories m "
            "ON m.project_id = e.project_id AND m.id = e.payload->>'id' "
            "WHERE e.project_id = $1 AND e.type = 'memory.submitted' "
            "ORDER BY e.topic_partition, e.log_offset", project)
    finally:
        await conn.close()
    counts = {r["text"]: r["n"] for r in rows}
    result = DrillResult(
        acknowledged=len(report.acknowledged),
        missing=[w.text for w in report.acknowledged if counts.get(w.text, 0) == 0],
        duplicated=[text for text, n in counts.items() if n > 1], lag=lag,
        longest_pause_s=report.longest_pause_s)
    if watch is not None:
        _check_stream(result, watch, order)
    return result


def _check_stream(result: DrillResult, watch: StreamWatch,
                  order: list[asyncpg.Record]) -> None:
    expected: dict[str, list[str]] = defaultdict(list)
    for row in order:
        expected[row["subject_id"]].append(row["id"])
    delivered = {memory_id for _, memory_id in watch.created()}
    result.sse_missing = sum(1 for ids in expected.values() for i in ids if i not in delivered)
    result.sse_twice_in_one_stream = sum(
        len(c) - len(set(c)) for c in watch.connections)
    first_seen: dict[str, list[str]] = defaultdict(list)
    for subject, memory_id in watch.created():
        if memory_id not in first_seen[subject]:
            first_seen[subject].append(memory_id)
    result.sse_out_of_order = sum(
        1 for subject, ids in first_seen.items()
        if ids != [i for i in expected[subject] if i in set(ids)])
