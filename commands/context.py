"""What every write handler needs, built once by the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.responses import Response

from commands.claim_extraction import decided_at_write
from commands.publisher import CommandBus, wants_async
from kernel.ai.extraction import ExtractionEngine
from kernel.ids import uuid7
from kernel.routing import APPENDED_EVENT, Call, server_error
from kernel.timefmt import now_ms
from schemas.claim_events import ClaimAsserted
from schemas.decoding import LATEST
from schemas.envelope import EventEnvelope

Embed = Callable[[str], Awaitable[list[float]]]
EmbedMany = Callable[[Sequence[str]], Awaitable[list[list[float]]]]


async def no_embedding(_text: str) -> list[float]:
    return []


async def no_embeddings(texts: Sequence[str]) -> list[list[float]]:
    return [[] for _ in texts]


@dataclass
class CommandContext:
    bus: CommandBus
    pool: asyncpg.Pool
    embed: Embed = no_embedding
    extraction: ExtractionEngine | None = None
    embed_many: EmbedMany = no_embeddings

    async def decide_claims(self, memory_id: str, text: str) -> list[ClaimAsserted] | None:
        """A new memory's claims, when the engine decides them at write time."""
        return await decided_at_write(self.extraction, self.embed, memory_id, text)

    def envelope(self, call: Call, event_type: str, subject_id: str,
                 payload: dict[str, Any], v: int | None = None) -> EventEnvelope:
        return EventEnvelope(
            event_id=uuid7(), type=event_type, v=v or LATEST[event_type],
            project_id=call.project_id,
            subject_id=subject_id, occurred_at=now_ms(), actor=actor_of(call),
            idempotency_key=call.request.headers.get("idempotency-key"), payload=payload,
        )

    async def submit(self, call: Call, event: EventEnvelope) -> Response:
        respond_async = wants_async(call.request.headers.get("prefer"))

        def appended(event_id: str) -> None:
            call.request.scope[APPENDED_EVENT] = event_id

        response = await self.bus.submit(event, respond_async=respond_async,
                                          on_appended=appended)
        if response.status_code >= 500:  # the projector's detail stays in the logs
            return server_error(call.request, f"event {event.event_id}: "
                                f"{bytes(response.body).decode(errors='replace')}",
                                call.project_id)
        return response


def actor_of(call: Call) -> str:
    principal = call.request.scope.get("core.principal")
    return str(principal) if principal else "anonymous"
