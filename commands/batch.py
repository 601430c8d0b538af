"""Many commands at once, each exactly as its single route would handle it: the same
drafter validates it, its text is embedded together with the others' (few provider calls),
and it becomes its own event. Used by the batch routes and by the Kafka command intake."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from commands.context import CommandContext, EmbedMany
from commands.drafts import Answer, Draft, draft_event
from kernel.http import InvalidBody, parse_body
from kernel.input_limits import Invalid, checked_value
from schemas.envelope import EventEnvelope

Drafter = Callable[[asyncpg.Pool, str, dict[str, Any]], Awaitable[Draft | Answer]]
INVALID_JSON = Invalid(400, {"error": "invalid_json_body"})


@dataclass(frozen=True)
class ItemResult:
    status: int
    body: Any

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body}


def item_fields(value: Any) -> dict[str, Any] | Invalid:
    """One parsed item → its checked fields, or the single route's 400 for that body."""
    try:
        return checked_value(value)
    except InvalidBody:
        return INVALID_JSON
    except Invalid as bad:
        return bad


def canonical(value: Any) -> bytes:
    """The bytes an item is fingerprinted by (the same item sent as JSON or NDJSON)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def parsed_item(raw: bytes) -> tuple[dict[str, Any] | Invalid, bytes]:
    """An NDJSON line → its fields (or error) and the bytes to fingerprint it by."""
    try:
        value = parse_body(raw)
    except InvalidBody:
        return INVALID_JSON, raw
    return item_fields(value), canonical(value)


async def draft_one(drafter: Drafter, pool: asyncpg.Pool, project_id: str,
                    body: dict[str, Any] | Invalid) -> Draft | Answer | Invalid:
    if isinstance(body, Invalid):
        return body
    try:
        return await drafter(pool, project_id, body)
    except Invalid as bad:
        return bad


async def embed_drafts(embed_many: EmbedMany,
                       drafts: Sequence[Draft | Answer | Invalid]) -> list[list[float]]:
    """One vector per entry (`[]` for entries without text), in few provider calls."""
    wanted = [(i, d.embed_text) for i, d in enumerate(drafts)
              if isinstance(d, Draft) and d.embed_text]
    vectors: list[list[float]] = [[] for _ in drafts]
    found = await embed_many([text for _, text in wanted]) if wanted else []
    for (index, _), vector in zip(wanted, found, strict=True):
        vectors[index] = vector
    return vectors


@dataclass(frozen=True)
class Submitted:
    """An item that became an event, with its result."""

    event: EventEnvelope
    result: ItemResult


ServerError = Callable[[str, BaseException | None], ItemResult]


async def submit_batch(ctx: CommandContext, drafter: Drafter, bodies: Sequence[
        dict[str, Any] | Invalid], keys: Sequence[str | None], *, project_id: str, actor: str,
        respond_async: bool, server_error: ServerError) -> list[ItemResult | Submitted]:
    """Each body's result in order: its error, its settled answer, or its event's outcome
    (202 under respond-async or when the wait times out)."""
    drafts = await asyncio.gather(*(draft_one(drafter, ctx.pool, project_id, b)
                                    for b in bodies))
    vectors = await embed_drafts(ctx.embed_many, drafts)

    async def one(draft: Draft | Answer | Invalid, vector: list[float],
                  key: str | None) -> ItemResult | Submitted:
        if isinstance(draft, Invalid | Answer):
            return ItemResult(draft.status, draft.body)
        event = draft_event(draft, vector, project_id=project_id, actor=actor,
                            idempotency_key=key)
        try:
            response = await ctx.bus.submit(event, respond_async=respond_async)
        except Exception as exc:
            return server_error(f"event {event.event_id} not produced: {exc}", exc)
        if response.status_code >= 500:  # the projector's detail stays in the logs
            detail = bytes(response.body).decode(errors="replace")
            return Submitted(event, server_error(f"event {event.event_id}: {detail}", None))
        return Submitted(event, ItemResult(response.status_code,
                                           orjson.loads(bytes(response.body))))

    return list(await asyncio.gather(*(one(d, v, k) for d, v, k
                                       in zip(drafts, vectors, keys, strict=True))))
