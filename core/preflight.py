"""What `core serve` and `core worker` check before starting, so that a missing dependency
ends in one line (see `core.cli_errors`) instead of a failed startup deep in uvicorn or
Faust: Postgres reachable, migrations in sync, Kafka reachable, the topics present."""

from __future__ import annotations

import logging

from core.cli_errors import CommandError, postgres_target
from kernel.kafka import partition_count
from kernel.migrate import MigrationStatus, status
from kernel.settings import Settings

TOPIC_VISIBLE_WAIT_S = 10.0
"""How long a missing topic may take to appear before the refusal: in a cluster a topic
just created through the controller reaches each broker's metadata a moment later, and a
service started right after `core topics` may ask a broker that has not seen it yet."""
CONNECT_TIMEOUT_S = 10.0


def describe(current: MigrationStatus) -> str:
    parts = [f"{len(names)} {what} (first: {names[0]})"
             for what, names in (("pending", current.pending), ("changed", current.changed),
                                 ("unknown to this version", current.unknown)) if names]
    return ", ".join(parts)


async def preflight(settings: Settings, *, migrations: bool, topics: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(settings.resolved_database_url(), timeout=CONNECT_TIMEOUT_S)
    try:
        current = await status(conn) if migrations else None
    finally:
        await conn.close()
    if current is not None and not current.in_sync:
        raise CommandError(f"refusing to start: migrations are pending or changed in "
                           f"{postgres_target(settings)}: {describe(current)}; run "
                           "`core migrate` (with this version's files)")
    kafka_log = logging.getLogger("aiokafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # its per-attempt connect errors; we say it once
    try:
        for topic in topics:
            await partition_count(settings.resolved_bootstrap(), topic,
                                  wait_s=TOPIC_VISIBLE_WAIT_S)
    finally:
        kafka_log.setLevel(level)
