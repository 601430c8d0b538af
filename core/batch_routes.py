"""POST /api/v1/memories/batch and /api/v1/claims/batch: many create bodies in one request.

A JSON body `{"items": [...]}` (at most BATCH_ITEMS, within CORE_BATCH_MAX_BODY_BYTES) or an
`application/x-ndjson` stream, one body per line (each within CORE_BATCH_MAX_LINE_BYTES, at
most CORE_BATCH_MAX_REQUEST_ITEMS per request), processed in chunks of BATCH_ITEMS as it
arrives. The answer is `200 {"results": [{"status", "body"}, ...]}` in item order; each item's
status and body are what its single route would answer. With an `Idempotency-Key` on the
batch, item i is handled as a single request with key `<key>:<i>` (so the batch key is at
most MAX_BATCH_KEY_LENGTH characters): a retried batch applies each item once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from starlette.responses import Response

from commands.assert_claim import claim_draft
from commands.batch import (
    Drafter,
    ItemResult,
    Submitted,
    canonical,
    item_fields,
    parsed_item,
    submit_batch,
)
from commands.context import CommandContext, actor_of
from commands.create_memory import memory_draft
from commands.publisher import wants_async
from core.body_limit import read_limited
from core.idempotency import Claimed, IdempotencyStore, Refused, fingerprint
from kernel.http import InvalidBody, error, json_response, parse_body
from kernel.input_limits import Invalid
from kernel.routing import Call, Handler, RouteSpec, server_error
from kernel.settings import Settings

BATCH_ITEMS = 500
MAX_BATCH_KEY_LENGTH = 200
"""A derived key `<key>:<index>` stays within the 255 characters of an Idempotency-Key."""
NDJSON = "application/x-ndjson"

Item = tuple[dict[str, Any] | Invalid, bytes]
"""An item's checked fields (or its error) and the bytes its idempotency fingerprint uses."""


@dataclass(frozen=True)
class BatchLimits:
    max_body_bytes: int
    max_line_bytes: int
    max_request_items: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BatchLimits:
        return cls(settings.batch_max_body_bytes, settings.batch_max_line_bytes,
                   settings.batch_max_request_items)


def batch_routes(ctx: CommandContext, store: IdempotencyStore,
                 limits: BatchLimits) -> list[RouteSpec]:
    memories = BatchRoute(ctx, store, limits, partial(memory_draft, decide=ctx.decide_claims),
                          "/api/v1/memories")
    claims = BatchRoute(ctx, store, limits, claim_draft, "/api/v1/claims")
    return [
        RouteSpec("POST", "/api/v1/memories/batch", memories.handler(), "memories:write",
                  own_body=True),
        RouteSpec("POST", "/api/v1/claims/batch", claims.handler(), "claims:write",
                  own_body=True),
    ]


@dataclass(frozen=True)
class BatchRoute:
    ctx: CommandContext
    store: IdempotencyStore
    limits: BatchLimits
    drafter: Drafter
    single_path: str

    def handler(self) -> Handler:
        async def handle(call: Call) -> Response:
            key = call.request.headers.get("idempotency-key")
            if key is not None and (not key.strip() or len(key) > MAX_BATCH_KEY_LENGTH):
                return error(400, "invalid_idempotency_key", max_length=MAX_BATCH_KEY_LENGTH)
            run = ChunkRun(self, call, key, wants_async(call.request.headers.get("prefer")))
            content_type = call.request.headers.get("content-type", "")
            if content_type.split(";")[0].strip().lower() == NDJSON:
                return await self._ndjson(call, run)
            return await self._json(call, run)

        return handle

    async def _json(self, call: Call, run: ChunkRun) -> Response:
        raw = await read_limited(call.request, self.limits.max_body_bytes)
        if raw is None:
            return json_response(413, {"error": "payload_too_large",
                                       "max_bytes": self.limits.max_body_bytes},
                                 {"connection": "close"})
        try:
            value = parse_body(raw)
        except InvalidBody:
            return error(400, "invalid_json_body")
        items = value.get("items") if isinstance(value, dict) else None
        if not isinstance(items, list):
            return error(400, "items_required", message="Provide {\"items\": [...]}")
        if len(items) > BATCH_ITEMS:
            return error(400, "too_many_items", max_items=BATCH_ITEMS)
        results = await run.chunk([(item_fields(v), canonical(v)) for v in items], 0)
        return json_response(200, {"results": [r.as_json() for r in results]})

    async def _ndjson(self, call: Call, run: ChunkRun) -> Response:
        results: list[ItemResult] = []
        pending: list[Item] = []
        pending_bytes = 0
        limit = self.limits.max_request_items
        async for line in ndjson_lines(call.request.stream(), self.limits.max_line_bytes):
            if len(results) + len(pending) >= limit:
                results += await run.chunk(pending, len(results))
                return json_response(413, {"error": "too_many_items", "max_items": limit,
                                           "results": [r.as_json() for r in results]},
                                     {"connection": "close"})
            pending.append(parsed_item(line) if line is not None else (line_too_long(
                self.limits.max_line_bytes), b""))
            pending_bytes += len(line or b"")
            if len(pending) >= BATCH_ITEMS or pending_bytes >= self.limits.max_body_bytes:
                results += await run.chunk(pending, len(results))
                pending, pending_bytes = [], 0
        results += await run.chunk(pending, len(results))
        return json_response(200, {"results": [r.as_json() for r in results]})


def line_too_long(max_bytes: int) -> Invalid:
    return Invalid(413, {"error": "payload_too_large", "max_bytes": max_bytes})


@dataclass(frozen=True)
class ChunkRun:
    route: BatchRoute
    call: Call
    key: str | None
    respond_async: bool

    @property
    def principal(self) -> str:
        return actor_of(self.call)

    def scope(self, index: int) -> tuple[str, str, str]:
        return self.call.project_id, self.principal, f"{self.key}:{index}"

    async def chunk(self, items: Sequence[Item], base: int) -> list[ItemResult]:
        """Results of items `base`..: each answered as its single route would answer it."""
        if not items:
            return []
        answered: list[ItemResult | None] = [None] * len(items)
        if self.key is not None:
            answered = await self._begin(items, base)
        todo = [i for i, done in enumerate(answered) if done is None]
        keys = [self.scope(base + i)[2] if self.key is not None else None for i in todo]
        try:
            out = await submit_batch(
                self.route.ctx, self.route.drafter, [items[i][0] for i in todo], keys,
                project_id=self.call.project_id, actor=self.principal,
                respond_async=self.respond_async, server_error=self._server_error)
        except BaseException:
            await self._release([base + i for i in todo])
            raise
        for i, result in zip(todo, out, strict=True):
            answered[i] = result.result if isinstance(result, Submitted) else result
        if self.key is not None:
            await self._finish(base, todo, out)
        return [r for r in answered if r is not None]

    async def _begin(self, items: Sequence[Item], base: int) -> list[ItemResult | None]:
        store = self.route.store
        begun = await asyncio.gather(*(
            store.begin(self.scope(base + i),
                        fingerprint("POST", self.route.single_path, item[1]))
            for i, item in enumerate(items)))
        answers: list[ItemResult | None] = []
        for outcome in begun:
            if isinstance(outcome, Claimed):
                answers.append(None)
            elif isinstance(outcome, Refused):
                answers.append(ItemResult(outcome.status, {"error": outcome.code}))
            else:
                answers.append(ItemResult(outcome.status, outcome.body))
        return answers

    async def _finish(self, base: int, todo: list[int],
                      out: Sequence[ItemResult | Submitted]) -> None:
        store = self.route.store
        await asyncio.gather(*(
            store.complete(self.scope(base + i), r.result.status, r.result.body,
                           r.event.event_id) if isinstance(r, Submitted)
            else store.release(self.scope(base + i))
            for i, r in zip(todo, out, strict=True)))

    async def _release(self, indexes: list[int]) -> None:
        if self.key is not None:
            await asyncio.gather(*(self.route.store.release(self.scope(i)) for i in indexes),
                                 return_exceptions=True)

    def _server_error(self, detail: str, exc: BaseException | None) -> ItemResult:
        response = server_error(self.call.request, detail, self.call.project_id, exc)
        return ItemResult(500, orjson.loads(bytes(response.body)))


async def ndjson_lines(chunks: AsyncIterator[bytes], max_line: int) -> AsyncIterator[bytes | None]:
    """The non-blank lines of a byte stream, as they arrive; None for a line longer than
    `max_line` bytes, whose bytes are dropped as they come (never held in memory)."""
    line = bytearray()
    too_long = False
    async for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not too_long:
                line += piece
                too_long = len(line) > max_line
                if too_long:
                    line.clear()
            if end < 0:
                break
            if too_long:
                yield None
            elif line.strip():
                yield bytes(line)
            line.clear()
            too_long = False
            start = end + 1
    if too_long:
        yield None
    elif line.strip():
        yield bytes(line)
