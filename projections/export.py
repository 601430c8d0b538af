"""`core events export`: the log as JSONL, streamed in constant memory, decoded (upcast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

import orjson

from kernel.kafka import end_offsets
from kernel.settings import Settings
from projections.log_reader import read_range
from projections.replay import Progress
from schemas.decoding import DecodeError, decode_event
from schemas.envelope import EventEnvelope


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
    async for batch in read_range(settings.resolved_bootstrap(), topic, {}, ends):
        for record in batch:
            seen += 1
            try:
                event = decode_event(record.value)
            except DecodeError:
                continue
            if wanted.wants(event):
                line = {"topic": topic, "partition": record.partition, "offset": record.offset,
                        **event.model_dump(mode="json")}
                out.write(orjson.dumps(line).decode() + "\n")
                written += 1
        progress(seen, total)
    return written
