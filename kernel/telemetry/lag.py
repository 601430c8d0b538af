"""Projector lag: the log end offset minus the next offset the projector will apply (stored in
`projection_offsets` in the same transaction as the rows), per partition."""

from __future__ import annotations

from typing import Any

from kernel.metrics import PROJECTOR_LAG

APPLIED_SQL = ("SELECT partition, next_offset FROM projection_offsets "
               "WHERE consumer = $1 AND topic = $2")


async def applied_offsets(db: Any, consumer: str, topic: str) -> dict[int, int]:
    """`db`: an asyncpg pool or connection."""
    rows = await db.fetch(APPLIED_SQL, consumer, topic)
    return {int(r["partition"]): int(r["next_offset"]) for r in rows}


def lag_by_partition(ends: dict[int, int], applied: dict[int, int]) -> dict[int, int]:
    return {p: max(end - applied.get(p, 0), 0) for p, end in sorted(ends.items())}


def publish_lag(topic: str, lag: dict[int, int]) -> None:
    for partition, behind in lag.items():
        PROJECTOR_LAG.labels(topic, str(partition)).set(behind)
