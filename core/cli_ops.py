"""`core backup`, `core restore` and `core topics`: the operators' commands for a deployment
(see docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from kernel.settings import Settings


def say(text: str, stream: Any = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def cmd_backup(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import backup

    manifest = backup(settings, Path(args.out))
    say(f"backup written to {args.out}: database dump and {manifest['records']} events of "
        f"{manifest['topic']}")
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    from core.backup import RestoreError, restore

    try:
        for step in restore(settings, Path(args.source)):
            say(step)
    except RestoreError as exc:
        say(f"restore refused: {exc}", sys.stderr)
        return 2
    return 0


def cmd_topics(settings: Settings, _args: argparse.Namespace) -> int:
    from kernel.kafka import ensure_topics

    asyncio.run(ensure_topics(settings))
    say(f"topics ready: {settings.events_topic}, {settings.changes_topic}, "
        f"{settings.dlq_topic} ({settings.partitions} partitions)")
    return 0


def add_ops_parsers(sub: Any) -> None:
    backup = sub.add_parser("backup", help="dump the database and export the events topic")
    backup.add_argument("--out", required=True, help="directory to write the backup into")
    restore = sub.add_parser("restore", help="restore a backup into an empty database "
                                             "(and the events topic, if it is empty)")
    restore.add_argument("--from", dest="source", required=True, help="backup directory")
    sub.add_parser("topics", help="create the events, changes and DLQ topics if absent")


OPS_COMMANDS = {"backup": cmd_backup, "restore": cmd_restore, "topics": cmd_topics}
