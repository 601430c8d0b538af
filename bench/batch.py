"""POST /api/v1/memories/batch with `Prefer: respond-async`: memories accepted per second
through the batch route, how long the projector then needs to catch up, and the CPU each
memory costs across the processes (API, worker, Postgres, Kafka)."""

from __future__ import annotations

import itertools

import orjson

from bench.client import Connection
from bench.context import Bench
from bench.driver import drive
from bench.stats import summarize
from bench.writes import ASYNC

BATCH = 500
CONTENT = b"content-type: application/json\r\n"


def batch_writer(bench: Bench, project: bytes):  # noqa: ANN201 - an operation
    counter = itertools.count()
    headers = project + ASYNC + CONTENT
    subjects = bench.options.subjects

    async def operation(conn: Connection, n: int) -> bool:
        first = next(counter) * BATCH
        items = [{"subject_id": f"subject-{(n + i) % subjects}",
                  "text": f"bench {bench.run_id} batch {first + i}: item {(first + i) % 977}",
                  "tags": ["bench"]} for i in range(BATCH)]
        status, body = await conn.request("POST", "/api/v1/memories/batch",
                                          orjson.dumps({"items": items}), headers)
        return status == 200 and body.count(b'"status":202') == BATCH

    return operation


async def run_batch(bench: Bench) -> None:
    opts = bench.options
    for level in (1, 4):
        project = bench.project(f"batch-{level}")
        mark = bench.cpu_mark()
        run = await drive(bench.target, level, opts.duration_s, opts.max_requests,
                          batch_writer(bench, project))
        backlog = await bench.caught_up()
        memories = len(run.latencies) * BATCH
        accepted = memories / run.seconds if run.seconds else 0.0
        projected = memories / (run.seconds + backlog) if run.seconds else 0.0
        scenario = summarize(
            f"batch.async.c{level}", "batch-async", run.latencies, run.errors, run.seconds,
            level, memories_per_s=round(accepted, 1), projected_per_s=round(projected, 1),
            catchup_s=round(backlog, 2), **bench.cpu_per_op(mark, memories))
        if run.first_error:
            scenario.extra["first_error"] = run.first_error
        bench.record(scenario)
