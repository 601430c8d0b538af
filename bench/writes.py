"""POST /api/v1/memories in wait mode (201 = projected and visible) and with
`Prefer: respond-async` (202 = accepted into the log), at rising concurrency."""

from __future__ import annotations

import itertools

import orjson

from bench.client import Connection
from bench.context import Bench
from bench.driver import drive
from bench.stats import summarize

ASYNC = b"prefer: respond-async\r\n"
EXPECTED = {"wait": 201, "async": 202}


def memory_body(run_id: str, n: int, subjects: int, seq: int, text: str = "") -> bytes:
    return orjson.dumps({
        "subject_id": f"subject-{n % subjects}",
        "text": text or f"bench {run_id} memory {seq}: the user likes item {seq % 977}",
        "importance": seq % 100, "tags": ["bench"],
    })


def writer(bench: Bench, mode: str, project: bytes):  # noqa: ANN201 - an operation
    counter = itertools.count()
    headers = project + (ASYNC if mode == "async" else b"")

    async def operation(conn: Connection, n: int) -> bool:
        body = memory_body(bench.run_id, n, bench.options.subjects, next(counter))
        status, _ = await conn.request("POST", "/api/v1/memories", body, headers)
        return status == EXPECTED[mode]

    return operation


async def run_writes(bench: Bench) -> None:
    opts = bench.options
    for mode in ("async", "wait"):
        for level in opts.write_levels:
            project = bench.project(f"writes-{mode}-{level}")
            mark = bench.cpu_mark()
            run = await drive(bench.target, level, opts.duration_s, opts.max_requests,
                              writer(bench, mode, project))
            backlog = await bench.caught_up()
            scenario = summarize(f"writes.{mode}.c{level}", f"writes-{mode}", run.latencies,
                                 run.errors, run.seconds, level, drain_s=round(backlog, 2),
                                 **bench.cpu_per_op(mark, len(run.latencies)))
            if run.first_error:
                scenario.extra["first_error"] = run.first_error
            bench.record(scenario)
