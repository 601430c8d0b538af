"""Produces command events and answers with the projector's outcome (or 202)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from starlette.responses import Response

from commands.outcome_waiter import OutcomeWaiter
from kernel.http import json_response
from kernel.kafka import subject_key
from kernel.telemetry.kafka import timed_produce
from kernel.telemetry.tracing import producing
from schemas.envelope import EventEnvelope
from schemas.subject_events import UNSEALED

Seal = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]
"""Seals a record's payload with its subject's data key (`kernel.shredding.KeyRing.seal`)."""


def encode_event(event: EventEnvelope) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


async def sealed_event(event: EventEnvelope, seal: Seal | None) -> bytes:
    if seal is None or event.type in UNSEALED:
        return encode_event(event)
    return orjson.dumps(await seal(event.model_dump(mode="json"), "event_id"))


def event_headers(event: EventEnvelope) -> list[tuple[str, bytes]]:
    headers = [("type", event.type.encode()), ("v", str(event.v).encode()),
               ("event_id", event.event_id.encode())]
    if event.idempotency_key:
        headers.append(("idempotency-key", event.idempotency_key.encode()))
    return headers


async def produce_event(producer: AIOKafkaProducer, topic: str, event: EventEnvelope,
                        seal: Seal | None = None) -> None:
    """The one way an event enters the log: keyed by project + subject, with its headers,
    its personal payload sealed when the deployment has a master key."""
    with producing(topic, **{"core.event_id": event.event_id,
                             "core.event_type": event.type}) as trace:
        await producer.send_and_wait(
            topic, await sealed_event(event, seal),
            key=subject_key(event.project_id, event.subject_id),
            headers=event_headers(event) + trace)


@dataclass
class CommandBus:
    producer: AIOKafkaProducer
    waiter: OutcomeWaiter
    topic: str
    timeout_s: float
    seal: Seal | None = None

    @timed_produce
    async def publish(self, event: EventEnvelope) -> None:
        await produce_event(self.producer, self.topic, event, self.seal)

    async def submit(self, event: EventEnvelope, *, respond_async: bool,
                     on_appended: Callable[[str], None] = lambda _id: None) -> Response:
        """Produce the event; wait for its outcome unless the client asked for 202."""
        future = self.waiter.register(event.event_id)
        try:
            await self.publish(event)
        except BaseException:
            self.waiter.forget(event.event_id)
            raise
        on_appended(event.event_id)
        if respond_async:
            self.waiter.forget(event.event_id)
            return accepted(event.event_id)
        outcome = await self.waiter.wait(event.event_id, future, self.timeout_s)
        if outcome is None:
            return accepted(event.event_id)
        return json_response(outcome.status, outcome.body)


def accepted(event_id: str) -> Response:
    url = f"/api/v1/commands/{event_id}"
    return json_response(202, {"accepted": True, "event_id": event_id, "status_url": url},
                         headers={"Location": url})


def wants_async(prefer_header: str | None) -> bool:
    return bool(prefer_header) and "respond-async" in (prefer_header or "").lower()
