"""A record no projector can decode, produced straight into a system's events topic."""

from __future__ import annotations

import uuid

from kernel.kafka import new_producer, subject_key
from tests.support.system import System


async def produce_poison(system: System, value: bytes = b"{not json") -> None:
    settings = system.settings()
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.events_topic, value,
                                     key=subject_key("poison", uuid.uuid4().hex))
    finally:
        await producer.stop()
