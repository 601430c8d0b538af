"""Operators' view of the dead-letter topic: list what could not be applied, and re-drive it
into the events topic once the cause is fixed (e.g. a newer CORE that knows the event type)."""

from __future__ import annotations

from typing import Any

import orjson

from kernel.kafka import end_offsets, new_producer
from kernel.settings import Settings
from projections.log_reader import read_range


def _header(headers: Any, name: str) -> bytes:
    for key, value in headers or ():
        if key == name:
            return bytes(value)
    return b""


async def list_dead_letters(settings: Settings) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = []
    ends = await end_offsets(settings, settings.dlq_topic)
    async for batch in read_range(settings.resolved_bootstrap(), settings.dlq_topic, {}, ends,
                                  with_headers=True):
        for record in batch:
            letters.append({
                "partition": record.partition, "offset": record.offset,
                "reason": _header(record.headers, "reason").decode(errors="replace"),
                "origin": orjson.loads(_header(record.headers, "origin") or b"null"),
                "key": record.key, "value": record.value.decode(errors="replace")})
    return letters


async def retry_dead_letters(settings: Settings, selected: list[str] | None) -> int:
    wanted = set(selected or [])
    letters = [letter for letter in await list_dead_letters(settings)
               if not wanted or f"{letter['partition']}:{letter['offset']}" in wanted]
    producer = new_producer(settings)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(settings.events_topic, letter["value"].encode(),
                                         key=letter["key"])
    finally:
        await producer.stop()
    return len(letters)
