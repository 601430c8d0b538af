"""Records what a search returned as one `memory.recalled` event (spec §15 Q14).

The event carries ids and scores only, never the memories' text (v2): the log is kept
forever and read-only keys write it; the projector copies the text from `memories`.

The search route calls the recorder after answering is decided; the event is produced
(Kafka ack) but no projector outcome is awaited, and a failure to record never fails the
search. Nothing is recorded without a `chat_id` or without hits.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from commands.coercion import numeric
from commands.context import CommandContext
from kernel.ids import uuid4
from kernel.routing import Call
from schemas.memory_events import (
    MEMORY_RECALLED,
    MEMORY_RECALLED_V,
    MemoryRecalled,
    RecalledMemory,
)

log = logging.getLogger("core.commands.recall")
INT32_MAX = 2**31 - 1
Recorder = Callable[[Call, str, list[dict[str, Any]], dict[str, Any]], Awaitable[None]]


def recall_event_id() -> str:
    return f"evt_{uuid4()}"


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any) -> float:
    number = numeric(value)
    return number if number is not None and math.isfinite(number) else 0.0


def _message_index(value: Any) -> int:
    return int(min(max(math.floor(_number(value)), -INT32_MAX - 1), INT32_MAX))


def _recall(hit: Mapping[str, Any], new_id: Callable[[], str]) -> RecalledMemory:
    return RecalledMemory(event_id=new_id(), memory_id=_text(hit.get("id")),
                          similarity_score=_number(hit.get("score")))


def recalled_payload(hits: Sequence[Mapping[str, Any]], params: Mapping[str, Any],
                     new_id: Callable[[], str] = recall_event_id) -> MemoryRecalled | None:
    """The event payload for these hits and search parameters; None when nothing to record."""
    chat_id = _text(params.get("chat_id"))
    if not chat_id or not hits:
        return None
    metadata = params.get("metadata")
    return MemoryRecalled(
        recalls=[_recall(hit, new_id) for hit in hits], chat_id=chat_id,
        message_index=_message_index(params.get("message_index")),
        model=_text(params.get("model")),
        request_type=_text(params.get("request_type")) or "chat",
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def recall_recorder(ctx: CommandContext) -> Recorder:
    async def record(call: Call, subject_id: str, hits: list[dict[str, Any]],
                     query_params: dict[str, Any]) -> None:
        payload = recalled_payload(hits, query_params)
        if payload is None:
            return
        event = ctx.envelope(call, MEMORY_RECALLED, subject_id, payload.model_dump(),
                             v=MEMORY_RECALLED_V)
        # a recall is a side record of a read: it must never share a write's idempotency key
        event = event.model_copy(update={"idempotency_key": None})
        try:
            await ctx.bus.publish(event)
        except Exception:  # recording is best effort; the search answer stands
            log.warning("could not record recalls of chat %s", payload.chat_id, exc_info=True)

    return record
