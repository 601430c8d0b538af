"""Starts or targets the system, runs the chosen scenarios, writes the report and chart."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from bench.chart import draw
from bench.client import Target
from bench.context import Bench, Options
from bench.memory import MemoryWatch
from bench.report import HEADER, print_comparison, print_summary, write_report
from bench.stack import Stack, start_stack


def options(args: argparse.Namespace) -> Options:
    return Options(duration_s=args.duration, max_requests=args.max_requests,
                   write_levels=args.write_levels, read_concurrency=args.read_concurrency,
                   read_sizes=args.read_sizes, sse_subscribers=args.sse_subscribers,
                   sse_rate=args.sse_rate, projector_events=args.projector_events,
                   only=frozenset(p.strip() for p in args.only.split(",") if p.strip()))


def target_stack(args: argparse.Namespace) -> Stack:
    if not (args.database_url and args.bootstrap):
        raise SystemExit("--url needs --database-url and --bootstrap too")
    pids: dict[str, list[int]] = {}
    for item in args.pid:
        role, _, pid = item.partition("=")
        pids.setdefault(role, []).append(int(pid))
    return Stack(args.url, args.api_key, args.database_url, args.bootstrap, args.topic_prefix,
                 args.worker_group, args.partitions, pids)


async def run(args: argparse.Namespace, meta: dict[str, Any]) -> int:
    began = time.perf_counter()
    stack = target_stack(args) if args.url else await asyncio.to_thread(
        start_stack, args.api_workers, args.partitions)  # it runs its own event loops
    try:
        print(f"system: {stack.url} (up in {time.perf_counter() - began:.0f} s)\n{HEADER}",
              flush=True)
        bench = Bench(stack, Target.parse(stack.url, stack.api_key), options(args),
                      MemoryWatch(dict(stack.pids)), out=args.out)
        await scenarios(bench)
    finally:
        stack.stop(keep_logs=args.out / "logs")
    return finish(args.out, meta, bench, time.perf_counter() - began)


async def scenarios(bench: Bench) -> None:
    from bench.batch import run_batch
    from bench.catchup import run_projector
    from bench.idle import run_idle
    from bench.reads import run_reads
    from bench.sse import run_sse
    from bench.subjects import run_subjects
    from bench.writes import run_writes
    from bench.wrk_load import run_wrk_reads, run_wrk_writes, wrk_available

    await _warm_up(bench)
    if "idle" in bench.options.only:  # first, before any load leaves a backlog behind
        await run_idle(bench)
    for name, scenario in (("writes", run_writes), ("sse", run_sse), ("reads", run_reads),
                           ("projector", run_projector), ("batch", run_batch),
                           ("subjects", run_subjects)):
        if bench.wants(name):
            await scenario(bench)
    reads_only = "wrk-reads" in bench.options.only  # the read points alone
    if bench.wants("wrk") or reads_only:
        if not wrk_available():
            bench.note("wrk is missing (Debian package `wrk`): the wrk points are not run")
            return
        if bench.wants("wrk"):
            await run_wrk_writes(bench)
        await run_wrk_reads(bench)


async def _warm_up(bench: Bench) -> None:
    """One write through the whole path, so the worker owns its partitions first."""
    from bench.driver import drive
    from bench.writes import writer

    await drive(bench.target, 1, 30, 3, writer(bench, "wait", bench.project("warm-up")))
    await bench.caught_up(timeout=120)


def finish(out: Path, meta: dict[str, Any], bench: Bench, seconds: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    stamp = meta["started"].replace(":", "").replace("-", "")[:15]
    meta["seconds"] = round(seconds, 1)
    path = out / f"bench-{stamp}.json"
    previous = sorted(out.glob("bench-*.json"))
    report = write_report(path, meta, bench.results, bench.memory.peaks, bench.notes)
    print_summary(report)
    if previous:  # every figure beside its ratio to the previous report of this directory
        print(f"against the previous report {previous[-1]}:")
        print_comparison(json.loads(previous[-1].read_text()), report)
    chart = path.with_suffix(".png")
    drawn = draw(report, chart)
    print(f"report: {path}\nchart: {chart if drawn else 'skipped (matplotlib not installed)'}")
    return 0
