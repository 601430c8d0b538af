"""POST /api/v1/memories/extract (spec §7.1): answer directly, or learn via `memories.extracted`.

Without learn nothing is written and no event is produced. With learn the memories and
their claims get ids and embeddings here, travel in one event, and the projector's
outcome is the answer (200, §15 Q18).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.responses import Response

from commands.coercion import coerce_required_str, js_string
from commands.context import CommandContext
from kernel.ai.extraction import ExtractedClaim, ExtractedMemory, ExtractionEngine, infer_claim_type
from kernel.http import InvalidBody, error, json_response
from kernel.ids import assertion_id, claim_id, memory_id
from kernel.input_limits import Invalid, checked_body, identifier, invalid
from kernel.routing import Call, Handler
from schemas.claim_events import ClaimAsserted
from schemas.extraction_events import MEMORIES_EXTRACTED, LearnedMemory, MemoriesExtracted

MAX_CONTEXT = 5


def required_fields(body: dict[str, Any]) -> tuple[str, str]:
    """subject_id (an identifier), then text (no length limit, spec §7.1)."""
    subject, text = (coerce_required_str(body.get(k)) for k in ("subject_id", "text"))
    if not subject:
        raise invalid("subject_id_required")
    if not text:
        raise invalid("text_required")
    return identifier(subject, "subject_id"), text


def flag(call: Call, body: dict[str, Any], name: str) -> bool:
    return body.get(name) is True or call.request.query_params.get(name, "").lower() == "true"


def conversation_context(value: Any) -> list[str]:
    items = value if isinstance(value, list) else []
    texts = [js_string(item).strip() for item in items]
    return [text for text in texts if text][-MAX_CONTEXT:]


async def learned_claim(ctx: CommandContext, claim: ExtractedClaim, source: str) -> ClaimAsserted:
    return ClaimAsserted(
        claim_id=claim_id(), assertion_id=assertion_id(), predicate=claim.predicate,
        object_value=claim.object_value, slot=claim.predicate,
        claim_type=claim.claim_type or infer_claim_type(claim.predicate),
        confidence=0.8 if claim.confidence is None else claim.confidence,
        source_memory_id=source,
        embedding=await ctx.embed(f"{claim.predicate}: {claim.object_value}"))


async def learned_memory(ctx: CommandContext, memory: ExtractedMemory) -> LearnedMemory:
    new_id = memory_id()
    return LearnedMemory(
        id=new_id, text=memory.text, kind=memory.kind,  # type: ignore[arg-type]
        visibility=memory.visibility,  # type: ignore[arg-type]
        importance=math.floor(min(max(memory.importance, 0), 100)),
        confidence=min(max(memory.confidence, 0.0), 1.0), is_temporal=memory.is_temporal,
        tags=list(memory.tags), embedding=await ctx.embed(memory.text),
        claims=[await learned_claim(ctx, c, new_id) for c in memory.claims])


def preview(engine: ExtractionEngine, memories: list[ExtractedMemory]) -> Response:
    return json_response(200, {"ok": True, "learned": False, "mode": engine.name,
                               "extracted_count": len(memories),
                               "memories": [m.to_api() for m in memories]})


def nothing_learned(engine: ExtractionEngine) -> Response:
    return json_response(200, {"ok": True, "mode": engine.name, "learned": True,
                               "extracted_count": 0, "learned_memory_count": 0,
                               "learned_claim_count": 0, "memories": []})


def extract_memories(ctx: CommandContext) -> Handler:
    async def handler(call: Call) -> Response:
        try:
            body = checked_body(await call.request.body())
            subject, text = required_fields(body)
        except InvalidBody:
            return error(400, "invalid_json_body")
        except Invalid as bad:
            return json_response(bad.status, bad.body)
        engine, force = ctx.extraction or ExtractionEngine(), flag(call, body, "force")
        memories = await engine.extract(text, force, conversation_context(
            body.get("conversation_context")), subject)
        if not flag(call, body, "learn"):
            return preview(engine, memories)
        if not memories:
            return nothing_learned(engine)
        payload = MemoriesExtracted(engine=engine.name, force=force,
                                    memories=[await learned_memory(ctx, m) for m in memories])
        event = ctx.envelope(call, MEMORIES_EXTRACTED, subject, payload.model_dump(mode="json"))
        response: Response = await ctx.submit(call, event)
        return response

    return handler
