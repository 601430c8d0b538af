"""`core events export`, `core replay`, `core projections …`, `core dlq …`: the analysts' and
operators' commands over the event log."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from typing import Any

from kernel.settings import Settings


def parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a timezone, e.g. 2026-01-31T12:00:00Z")
    return value


def parse_offsets(raw: str) -> dict[int, int]:
    pairs = (item.split(":") for item in raw.split(",") if item.strip())
    return {int(p): int(o) for p, o in pairs}


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from core.progress import Reporter
    from kernel.heap import settle_heap
    from projections.replay import Replayer, StopRule, create_projection_schema

    settle_heap()  # the collector took ~40% of a replay's CPU at its default threshold

    async def run(report: Reporter) -> int:
        import asyncpg

        conn = await asyncpg.connect(settings.resolved_database_url())
        try:
            await create_projection_schema(conn, args.schema)
        finally:
            await conn.close()
        replayer = Replayer(settings, args.schema, project=args.project,
                            progress=report.phase(f"replay → {args.schema}"))
        summary = await replayer.run(StopRule(until=args.until, offsets=args.offsets))
        report.finish(
            {"command": "replay", "schema": args.schema, "events": summary.events,
             "applied": summary.applied, "seconds": round(summary.seconds, 3),
             "events_per_second": round(summary.per_second, 1),
             "positions": {str(p): o for p, o in sorted(summary.positions.items())}},
            f"replayed {summary.events} events ({summary.applied} applied) into schema "
            f"{args.schema} in {summary.seconds:.1f}s: {summary.per_second:.0f} events/s")
        return 0

    with Reporter(args.json) as report:
        return asyncio.run(run(report))


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from core.progress import Reporter
    from projections.export import ExportFilter, export_events

    out = open(args.out, "w") if args.out else sys.stdout  # noqa: SIM115
    # without --out the events are stdout, so the summary goes to stderr
    with Reporter(args.json, stream=sys.stdout if args.out else sys.stderr) as report:
        began = time.monotonic()
        try:
            wanted = ExportFilter(args.project, args.subject, args.since, args.until,
                                  set(args.type or []))
            count = asyncio.run(export_events(settings, wanted, out, report.phase("export")))
        finally:
            if args.out:
                out.close()
        seconds = time.monotonic() - began
        report.finish({"command": "events export", "events": count, "out": args.out,
                       "seconds": round(seconds, 3)},
                      f"exported {count} events in {seconds:.1f}s")
    return 0


def cmd_projections(settings: Settings, args: argparse.Namespace) -> int:
    from core.progress import Reporter
    from projections.rebuild import rebuild

    if args.projections_command == "drop":
        return asyncio.run(_drop_schema(settings, args.schema))
    schema = args.schema or f"proj_{time.strftime('%Y%m%d%H%M%S')}"
    with Reporter(args.json) as report:
        result = asyncio.run(rebuild(settings, schema, report.phase(f"rebuild → {schema}")))
        summary = {"command": "projections rebuild", "schema": schema,
                   "previous": result.previous, "events": result.events,
                   "seconds": round(result.seconds, 3), "switched": result.switched,
                   "differences": result.differences}
        if not result.switched:
            print(f"NOT switched: {schema} differs from {result.previous} in "
                  f"{result.differences}", file=sys.stderr)
            report.finish(summary, f"rebuilt {result.events} events into {schema}; NOT switched")
            return 1
        report.finish(summary, f"rebuilt {result.events} events into {schema} in "
                               f"{result.seconds:.1f}s and switched the live projection to it "
                               f"(previous: {result.previous}, kept until dropped)")
    return 0


async def _drop_schema(settings: Settings, schema: str) -> int:
    import asyncpg

    from kernel.projection_pointer import active_schema, quote_ident

    conn = await asyncpg.connect(settings.resolved_database_url())
    try:
        if schema == "public" or schema == await active_schema(conn):
            print(f"refusing to drop {schema}: it is public or live", file=sys.stderr)
            return 1
        await conn.execute(f"DROP SCHEMA {quote_ident(schema)} CASCADE")
        print(f"dropped {schema}")
        return 0
    finally:
        await conn.close()


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    from projections.dead_letters import list_dead_letters, retry_dead_letters

    if args.dlq_command == "list":
        for letter in asyncio.run(list_dead_letters(settings)):
            print(_dlq_line(letter))
        return 0
    count = asyncio.run(retry_dead_letters(settings, args.offset))
    print(f"re-drove {count} dead letters into {settings.events_topic}")
    return 0


def _dlq_line(letter: dict[str, Any]) -> str:
    return (f"{letter['partition']}:{letter['offset']}  origin={letter['origin']}  "
            f"reason={letter['reason']}  value={letter['value'][:120]}")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="no progress bar; print one JSON summary line (also when "
                             "stderr is not a terminal)")


def add_history_parsers(sub: Any) -> None:
    export = sub.add_parser("events", help="the event log").add_subparsers(
        dest="events_command", required=True).add_parser("export", help="export as JSONL")
    export.add_argument("--project")
    export.add_argument("--subject")
    export.add_argument("--since", type=parse_time)
    export.add_argument("--until", type=parse_time)
    export.add_argument("--type", action="append")
    export.add_argument("--out")
    add_json_flag(export)
    replay = sub.add_parser("replay", help="fold the log into a new schema")
    replay.add_argument("--schema", required=True)
    stop = replay.add_mutually_exclusive_group()
    stop.add_argument("--until", type=parse_time)
    stop.add_argument("--offsets", type=parse_offsets, help="P:O,… stop before these offsets")
    replay.add_argument("--project")
    add_json_flag(replay)
    projections = sub.add_parser("projections", help="rebuild or drop projection schemas")
    psub = projections.add_subparsers(dest="projections_command", required=True)
    rebuild = psub.add_parser("rebuild")
    rebuild.add_argument("--schema")
    add_json_flag(rebuild)
    psub.add_parser("drop").add_argument("schema")
    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq_command",
                                                                    required=True)
    dlq.add_parser("list")
    dlq.add_parser("retry").add_argument("--offset", action="append", default=None,
                                         help="P:O of the dead letter (default: all)")


HISTORY_COMMANDS = {"events": cmd_export, "replay": cmd_replay, "projections": cmd_projections,
                    "dlq": cmd_dlq}
