"""`python -m bench [run] [options]`, `python -m bench compare A.json B.json` and
`python -m bench tracing` (the CPU cost of OpenTelemetry tracing per write, off and on).

Without `--url` it starts a whole system (embedded Postgres + Kafka, API, worker) in a
temporary CORE_HOME on free ports, and stops it at the end. With `--url` (and `--api-key`,
`--database-url`, `--bootstrap`) it targets a running one. Every load is bounded by
`--duration` and `--max-requests` and goes to loopback addresses only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

SCENARIOS = ("writes", "reads", "sse", "projector", "batch", "subjects", "wrk")
EXTRA_SCENARIOS = ("drills", "wrk-reads", "idle")
"""Run only when named in `--only`: the fault drills (see `bench.drills`), the wrk read
points without the wrk write points, and the idle system's CPU (see `bench.idle`, about a
minute of waiting)."""


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="target a running API (default: start a system)")
    parser.add_argument("--api-key", default=os.environ.get("CORE_API_KEY", ""))
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""))
    parser.add_argument("--topic-prefix", default=os.environ.get("CORE_TOPIC_PREFIX", "core"))
    parser.add_argument("--worker-group", default=os.environ.get("CORE_WORKER_GROUP",
                                                                   "core-projector"))
    parser.add_argument("--pid", action="append", default=[], metavar="ROLE=PID",
                        help="a process of the target whose peak memory to report")
    parser.add_argument("--api-workers", type=int, default=int(os.environ.get(
        "CORE_API_WORKERS", "1")), help="API processes of a started system")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of {SCENARIOS + EXTRA_SCENARIOS}")
    parser.add_argument("--drill-writes", type=int, default=2000,
                        help="writes per fault drill (--only drills)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--write-levels", type=_ints, default=(1, 8, 32, 64))
    parser.add_argument("--read-concurrency", type=int, default=16)
    parser.add_argument("--read-sizes", type=_ints, default=(10_000, 100_000))
    parser.add_argument("--sse-subscribers", type=int, default=1000)
    parser.add_argument("--sse-rate", type=float, default=200.0)
    parser.add_argument("--projector-events", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        from bench.report import compare

        if len(argv) != 3:
            print("usage: python -m bench compare A.json B.json", file=sys.stderr)
            return 2
        return compare(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["tracing"]:
        from bench.tracing_cost import main as tracing_cost

        return tracing_cost(argv[1:])
    if argv[:1] == ["run"]:
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    if args.only.strip() == "drills":
        from bench.drills import run_drills

        return run_drills(args.drill_writes)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from bench.runner import run

    return asyncio.run(run(args, meta(args)))


def meta(args: argparse.Namespace) -> dict[str, object]:
    return {"started": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "mode": "target" if args.url else "started",
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                     if k != "api_key"}}
