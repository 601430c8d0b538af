"""`core events export`: the log as JSONL, streamed in constant memory, decoded (upcast).

Sealed events are opened with their subjects' data keys (looked up per batch); an event of
a forgotten subject is written redacted: its clear envelope, `payload: null` and
`"redacted": "subject_forgotten"`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

import asyncpg
import orjson

from kernel.kafka import end_offsets
from kernel.settings import Settings
from kernel.shredding import KeyRing
from projections.log_reader import read_range
from projections.replay import Progress
from schemas.decoding import DecodeError, Forgotten, decode_event
from schemas.envelope import EventEnvelope
from schemas.sealing import SubjectKeys


@dataclass(frozen=True)
class ExportFilter:
    project: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    types: set[str] = field(default_factory=set)

    def wants(self, event: EventEnvelope) -> bool:
        return ((self.project is None or event.project_id == self.project)
                and (self.subject is None or event.subject_id == self.subject)
                and (self.since is None or event.occurred_at >= self.since)
                and (self.until is None or event.occurred_at <= self.until)
                and (not self.types or event.type in self.types))


async def export_events(settings: Settings, wanted: ExportFilter, out: TextIO,
                        progress: Progress) -> int:
    topic = settings.events_topic
    ends = await end_offsets(settings, topic)
    total, seen, written = sum(ends.values()), 0, 0
    ring = KeyRing.from_settings(settings)
    conn = await asyncpg.connect(settings.resolved_database_url()) if ring else None
    try:
        async for batch in read_range(settings.resolved_bootstrap(), topic, {}, ends):
            keys: SubjectKeys = {}
            if ring is not None and conn is not None:
                keys = await ring.batch_keys(conn, (r.value for r in batch))
            for record in batch:
                seen += 1
                line = _line(record.value, keys, wanted)
                if line is not None:
                    position = {"topic": topic, "partition": record.partition,
                                "offset": record.offset}
                    out.write(orjson.dumps({**position, **line}).decode() + "\n")
                    written += 1
            progress(seen, total)
    finally:
        if conn is not None:
            await conn.close()
    return written


def _line(raw: bytes, keys: SubjectKeys, wanted: ExportFilter) -> dict[str, object] | None:
    try:
        event = decode_event(raw, keys)
    except Forgotten as gone:
        if not wanted.wants(gone.envelope):
            return None
        return {**gone.envelope.model_dump(mode="json"), "payload": None,
                "redacted": "subject_forgotten"}
    except DecodeError:
        return None
    return event.model_dump(mode="json") if wanted.wants(event) else None
