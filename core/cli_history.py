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


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); silent otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        share = done / total if total else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def parse_time(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a timezone, e.g. 2026-01-31T12:00:00Z")
    return value


def parse_offsets(raw: str) -> dict[int, int]:
    pairs = (item.split(":") for item in raw.split(",") if item.strip())
    return {int(p): int(o) for p, o in pairs}


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from projections.replay import Replayer, StopRule, create_projection_schema

    async def run() -> int:
        import asyncpg

        conn = await asyncpg.connect(settings.resolved_database_url())
        try:
            await create_projection_schema(conn, args.schema)
        finally:
            await conn.close()
        replayer = Replayer(settings, args.schema, project=args.project,
                            progress=ProgressBar(f"replay → {args.schema}"))
        summary = await replayer.run(StopRule(until=args.until, offsets=args.offsets))
        print(f"replayed {summary.events} events ({summary.applied} applied) into schema "
              f"{args.schema} in {summary.seconds:.1f}s: {summary.per_second:.0f} events/s")
        return 0

    return asyncio.run(run())


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    from projections.export import ExportFilter, export_events

    out = open(args.out, "w") if args.out else sys.stdout  # noqa: SIM115
    try:
        wanted = ExportFilter(args.project, args.subject, args.since, args.until,
                              set(args.type or []))
        count = asyncio.run(export_events(settings, wanted, out, ProgressBar("export")))
    finally:
        if args.out:
            out.close()
    print(f"exported {count} events", file=sys.stderr)
    return 0


def cmd_projections(settings: Settings, args: argparse.Namespace) -> int:
    from projections.rebuild import rebuild

    if args.projections_command == "drop":
        return asyncio.run(_drop_schema(settings, args.schema))
    schema = args.schema or f"proj_{time.strftime('%Y%m%d%H%M%S')}"
    result = asyncio.run(rebuild(settings, schema, ProgressBar(f"rebuild → {schema}")))
    if not result.switched:
        print(f"NOT switched: {schema} differs from {result.previous} in {result.differences}",
              file=sys.stderr)
        return 1
    print(f"rebuilt {result.events} events into {schema} in {result.seconds:.1f}s and switched "
          f"the live projection to it (previous: {result.previous}, kept until dropped)")
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


def add_history_parsers(sub: Any) -> None:
    export = sub.add_parser("events", help="the event log").add_subparsers(
        dest="events_command", required=True).add_parser("export", help="export as JSONL")
    export.add_argument("--project")
    export.add_argument("--subject")
    export.add_argument("--since", type=parse_time)
    export.add_argument("--until", type=parse_time)
    export.add_argument("--type", action="append")
    export.add_argument("--out")
    replay = sub.add_parser("replay", help="fold the log into a new schema")
    replay.add_argument("--schema", required=True)
    stop = replay.add_mutually_exclusive_group()
    stop.add_argument("--until", type=parse_time)
    stop.add_argument("--offsets", type=parse_offsets, help="P:O,… stop before these offsets")
    replay.add_argument("--project")
    projections = sub.add_parser("projections", help="rebuild or drop projection schemas")
    psub = projections.add_subparsers(dest="projections_command", required=True)
    psub.add_parser("rebuild").add_argument("--schema")
    psub.add_parser("drop").add_argument("schema")
    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(dest="dlq_command",
                                                                    required=True)
    dlq.add_parser("list")
    dlq.add_parser("retry").add_argument("--offset", action="append", default=None,
                                         help="P:O of the dead letter (default: all)")


HISTORY_COMMANDS = {"events": cmd_export, "replay": cmd_replay, "projections": cmd_projections,
                    "dlq": cmd_dlq}
