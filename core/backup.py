"""`core backup --out DIR` and `core restore --from DIR`.

A backup is three files: `postgres.dump` (pg_dump custom format of the whole database:
projections, offsets, outcomes, outbox, keys, replay schemas), `events.jsonl` (the events
topic, see `core.event_archive`) and `manifest.json`. The dump is taken first, then the
log up to its end offsets at that moment, so the log always covers what the dump's
`projection_offsets` claim.

Restore loads the dump into an empty database in one transaction, then restores the
events topic only if it is empty (a surviving cluster keeps its log), and checks that
the log reaches every offset the restored projection says it applied.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
import orjson

from core.event_archive import Progress, export_topic, produce_archive
from kernel.kafka import end_offsets, ensure_topics
from kernel.runtime.postgres import pg_bin
from kernel.settings import Settings
from kernel.timefmt import iso_ms, now_ms

DUMP, EVENTS, MANIFEST = "postgres.dump", "events.jsonl", "manifest.json"
Phases = Callable[[str], Progress]  # a progress callback per named phase


def no_phases(_label: str) -> Progress:
    return lambda _done, _total: None


class RestoreError(RuntimeError):
    pass


class PgToolFailed(RuntimeError):
    def __init__(self, tool: str, code: int, stderr: str) -> None:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        self.tool, self.reason = tool, (lines[0] if lines else f"exit code {code}")
        super().__init__(f"{tool} failed ({code}): {stderr.strip()}")


def libpq_target(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password (kept out of argv) and the environment carrying it."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, {}
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    clean = urlunsplit(parts._replace(netloc=f"{user}@{netloc[1]}"))
    return clean, {"PGPASSWORD": unquote(parts.password)}


def run_pg(tool: str, args: list[str], dsn: str) -> None:
    target, secret = libpq_target(dsn)
    done = subprocess.run([pg_bin(tool), *args, "--dbname", target],
                          env={**os.environ, **secret}, capture_output=True, text=True)
    if done.returncode != 0:
        raise PgToolFailed(tool, done.returncode, done.stderr)


def backup(settings: Settings, out: Path, phases: Phases = no_phases) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)  # memory text lives in here
    started = now_ms()
    dumped = phases("pg_dump")
    dumped(0, 0)
    run_pg("pg_dump", ["--format=custom", "--no-owner", "--no-privileges",
                       "--file", str(out / DUMP)], settings.resolved_database_url())
    dumped(1, 1)
    positions = asyncio.run(export_topic(settings, settings.events_topic, out / EVENTS,
                                         phases(f"export {settings.events_topic}")))
    manifest = {"format": 1, "started_at": iso_ms(started), "finished_at": iso_ms(now_ms()),
                "topic": settings.events_topic, "consumer": settings.worker_group,
                "partitions": {str(p): span for p, span in positions.items()},
                "records": sum(end - start for start, end in positions.values())}
    (out / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for name in (DUMP, EVENTS, MANIFEST):
        (out / name).chmod(0o600)
    return manifest


def restore(settings: Settings, source: Path, phases: Phases = no_phases) -> list[str]:
    """Returns what was done, one line per step; raises RestoreError when unsafe."""
    manifest = orjson.loads((source / MANIFEST).read_bytes())
    dsn = settings.resolved_database_url()
    tables = asyncio.run(user_tables(dsn))
    if tables:
        raise RestoreError(f"database is not empty ({len(tables)} tables, e.g. {tables[0]}); "
                             "drop and recreate it first")
    restored = phases("pg_restore")
    restored(0, 0)
    run_pg("pg_restore", ["--single-transaction", "--exit-on-error", "--no-owner",
                          "--no-privileges", str(source / DUMP)], dsn)
    restored(1, 1)
    steps = [f"database restored from {source / DUMP}"]
    steps += asyncio.run(restore_topic(settings, source, manifest,
                                       phases(f"produce {settings.events_topic}")))
    return steps


async def user_tables(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT schemaname || '.' || tablename AS name FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1")
        return [r["name"] for r in rows]
    finally:
        await conn.close()


async def restore_topic(settings: Settings, source: Path, manifest: dict[str, Any],
                        progress: Progress | None = None) -> list[str]:
    spans = {int(p): span for p, span in manifest["partitions"].items()}
    await ensure_topics(settings.model_copy(update={"partitions": len(spans)}))
    topic = settings.events_topic
    ends = await end_offsets(settings.model_copy(update={"partitions": len(spans)}), topic)
    if any(ends.values()):
        steps = [f"events topic {topic} is not empty: kept as is"]
    else:
        count = await produce_archive(settings, topic, source / EVENTS,
                                      int(manifest.get("records", 0)),
                                      progress or (lambda _done, _total: None))
        steps = [f"events topic {topic}: {count} records re-produced"]
        ends = await end_offsets(settings.model_copy(update={"partitions": len(spans)}), topic)
        if any(ends.get(p, 0) != end for p, (_start, end) in spans.items()):
            steps.append(f"WARNING: offsets differ from the backup ({ends}); rebuild the "
                         "projections from the log (`core projections rebuild`)")
    return steps + await check_offsets(settings, manifest["consumer"], topic, ends)


async def check_offsets(settings: Settings, consumer: str, topic: str,
                        ends: dict[int, int]) -> list[str]:
    conn = await asyncpg.connect(settings.resolved_database_url())
    try:
        rows = await conn.fetch("SELECT partition, next_offset FROM projection_offsets "
                                "WHERE consumer = $1 AND topic = $2", consumer, topic)
    finally:
        await conn.close()
    ahead = {r["partition"]: r["next_offset"] for r in rows
             if r["next_offset"] > ends.get(r["partition"], 0)}
    if ahead:
        raise RestoreError(f"the projection applied offsets {ahead} beyond the log's end "
                             f"{ends}: restore the events topic from the same backup")
    return [f"projection offsets of {consumer} are within the log"]
