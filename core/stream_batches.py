"""Batches of a Faust stream that take what has arrived, never waiting for more.

Faust's `take_events(max, within)` holds every batch open for up to `within` seconds and,
while the stream is idle, wakes every `within` seconds to find nothing. Here a batch is
whatever the stream delivered since the previous one was handed out: the first event ends
an idle wait at once, and under load the events that arrive while a batch is being applied
form the next one (up to `max_`; then the stream waits for room). Idle, nothing wakes.
Events are acknowledged after their batch was handled, as `take_events` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


async def take_available(stream: Any, max_: int) -> AsyncIterator[list[Any]]:
    pending: list[Any] = []
    arrived, room = asyncio.Event(), asyncio.Event()
    room.set()

    async def add(value: Any) -> Any:
        event = stream.current_event
        if event is None:
            raise RuntimeError("a stream value without its event")
        pending.append(event)
        arrived.set()
        if len(pending) >= max_:
            room.clear()
            await stream.wait(room)
        return value

    acks = stream.enable_acks
    stream.enable_acks = False  # acknowledged below, once handled
    stream.add_processor(add)
    stream._enable_passive(aiter(stream.channel))  # the stream is drained in the background
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(arrived)
            if not pending:
                continue
            batch = pending[:]
            pending.clear()
            arrived.clear()
            room.set()
            try:
                yield batch
            finally:
                for event in batch:
                    await stream.ack(event)
    finally:
        stream.enable_acks = acks
        stream._processors.remove(add)
