"""`core backup`, `core restore` and `core topics`: the operators' commands for a deployment
(see docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from core.cli_history import add_json_flag
from kernel.settings import Settings


def say(text: str, stream: Any = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import backup
    from core.progress import Reporter

    began = time.monotonic()
    with Reporter(args.json) as report:
        manifest = backup(settings, Path(args.out), report.phase)
        seconds = time.monotonic() - began
        report.finish({"command": "backup", "out": args.out, "topic": manifest["topic"],
                       "records": manifest["records"], "partitions": manifest["partitions"],
                       "seconds": round(seconds, 3)},
                      f"backup written to {args.out}: database dump and "
                      f"{manifest['records']} events of {manifest['topic']} in {seconds:.1f}s")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import RestoreError, restore
    from core.progress import Reporter

    began = time.monotonic()
    with Reporter(args.json) as report:
        try:
            steps = restore(settings, Path(args.source), report.phase)
        except RestoreError as exc:
            say(f"restore refused: {exc}", sys.stderr)
            return 2
        seconds = time.monotonic() - began
        report.finish({"command": "restore", "from": args.source, "steps": steps,
                       "seconds": round(seconds, 3)}, "\n".join(steps))
    return 0


def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    from kernel.kafka import ensure_topics

    asyncio.run(ensure_topics(settings, timeout=args.wait))
    say(f"topics ready: {settings.events_topic}, {settings.changes_topic}, "
        f"{settings.dlq_topic} ({settings.partitions} partitions)")
    return 0


def add_ops_parsers(sub: Any) -> None:
    backup = sub.add_parser("backup", help="dump the database and export the events topic")
    backup.add_argument("--out", required=True, help="directory to write the backup into")
    add_json_flag(backup)
    restore = sub.add_parser("restore", help="restore a backup into an empty database "
                                             "(and the events topic, if it is empty)")
    restore.add_argument("--from", dest="source", required=True, help="backup directory")
    add_json_flag(restore)
    topics = sub.add_parser("topics", help="create the events, changes and DLQ topics if absent")
    topics.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="how long to wait for the brokers to answer (default 60)")


OPS_COMMANDS = {"backup": cmd_backup, "restore": cmd_restore, "topics": cmd_topics}
