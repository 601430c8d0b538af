"""The side-by-side workload of the performance issue, driven by `wrk` (Debian package `wrk`)
with the Lua scripts in `bench/perf/` (the team's shared `perf/` scripts, plus an optional
`CORE_PROJECT` header so each point writes into its own project).

Points: `wrk.write.{plain,claim}.{wait,async}.c32` — POST /api/v1/memories from 32
keep-alive connections, unique texts over subjects s_0…s_99, a text that yields no claim or
one `likes` claim in the simple engine; `wrk.read.{search,list}.c8` after loading exactly
`--read-sizes`' first size (10,000 by default) of memories and `VACUUM ANALYZE
memories`. CPU per request is the
sum over every process of the system (API, worker, Postgres, Kafka) from their CPU times,
until the projector, the outbox and the extraction queue are drained — so it holds while
other work shares the machine, unlike whole-machine `/proc/stat` figures.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
from pathlib import Path

import asyncpg

from bench.client import Connection
from bench.context import Bench
from bench.stats import Scenario

SCRIPTS = Path(__file__).resolve().parent / "perf"
RESULT = re.compile(r"RESULT rps=(?P<rps>[\d.]+) p50=(?P<p50>[\d.]+) p95=(?P<p95>[\d.]+) "
                    r"p99=(?P<p99>[\d.]+) max=(?P<max>[\d.]+) n=(?P<n>\d+) "
                    r"errors=(?P<errors>\d+) non2xx=(?P<non2xx>\d+)")
SUBJECTS = 100


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


async def run_wrk(bench: Bench, script: str, connections: int, project: str,
                  *args: str) -> dict[str, float]:
    """One wrk point; its RESULT line as numbers."""
    seconds = max(1, round(bench.options.duration_s))
    env = {**os.environ, "CORE_KEY": bench.stack.api_key, "CORE_PROJECT": project}
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(SCRIPTS / script), bench.stack.url, "--", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env)
    out, _ = await proc.communicate()
    found = RESULT.search(out.decode(errors="replace"))
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out.decode(errors='replace')}")
    return {k: float(v) for k, v in found.groupdict().items()}


def scenario(name: str, group: str, connections: int, figures: dict[str, float],
             seconds: float, **extra: float) -> Scenario:
    failed = int(figures["errors"] + figures["non2xx"])
    return Scenario(name=name, group=group, concurrency=connections,
                    requests=int(figures["n"]), errors=failed, duration_s=seconds,
                    throughput=figures["rps"], p50_ms=figures["p50"], p95_ms=figures["p95"],
                    p99_ms=figures["p99"], max_ms=figures["max"], extra=extra)


async def run_wrk_writes(bench: Bench) -> None:
    for mix in ("plain", "claim"):
        for mode in ("wait", "async"):
            project = f"bench-{bench.run_id}-wrk-{mix}-{mode}"
            mark = bench.cpu_mark()
            figures = await run_wrk(bench, "post.lua", 32, project, mix, bench.run_id,
                                    *(["async"] if mode == "async" else []))
            drain = await bench.caught_up()
            cpu = bench.cpu_per_op(mark, int(figures["n"]))
            bench.record(scenario(f"wrk.write.{mix}.{mode}.c32", f"wrk-{mix}-{mode}", 32,
                                  figures, bench.options.duration_s, drain_s=round(drain, 2),
                                  cpu_ms_per_op_total=round(sum(cpu.values()), 3), **cpu))


async def run_wrk_reads(bench: Bench) -> None:
    project = f"bench-{bench.run_id}-wrk-reads"
    await _load(bench, project)
    for kind in ("search", "list"):
        mark = bench.cpu_mark()
        figures = await run_wrk(bench, "read.lua", 8, project, kind)
        cpu = bench.cpu_per_op(mark, int(figures["n"]))
        bench.record(scenario(f"wrk.read.{kind}.c8", f"wrk-read-{kind}", 8, figures,
                              bench.options.duration_s,
                              cpu_ms_per_op_total=round(sum(cpu.values()), 3), **cpu))


async def _load(bench: Bench, project: str) -> None:
    """The first of `--read-sizes` (10,000 by default) memories over 100 subjects, through
    the API (async), then analyzed."""
    from bench.driver import drive
    from bench.writes import ASYNC

    headers = f"x-project-id: {project}\r\n".encode() + ASYNC
    words = ("river", "coffee", "garden", "piano", "window", "market", "orange", "winter",
             "silver", "forest", "bridge", "candle", "pepper", "rocket", "shadow", "violet",
             "harbor", "meadow", "copper", "lantern")

    counter = itertools.count(1)

    async def write(conn: Connection, _n: int) -> bool:
        seq = next(counter)
        picked = " ".join(words[(seq * k + k) % len(words)] for k in (3, 7, 11, 13, 17))
        body = (f'{{"subject_id":"s_{seq % SUBJECTS}","text":"Had {picked} '
                f'({bench.run_id}-{seq})"}}').encode()
        status, _ = await conn.request("POST", "/api/v1/memories", body, headers)
        return status == 202

    await drive(bench.target, 32, 3600, bench.options.read_sizes[0], write)
    await bench.caught_up()
    conn = await asyncpg.connect(bench.stack.database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM memories WHERE project_id = $1",
                                    project)
        await conn.execute("VACUUM ANALYZE memories")
    finally:
        await conn.close()
    bench.note(f"wrk reads: {count} memories over {SUBJECTS} subjects in {project}")
