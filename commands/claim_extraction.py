"""Background claim extraction (spec §7.4), outside the fold: it runs the extraction engine
and records the result as its own event.

It reacts only to `memory.extraction_requested` changes, which the memory projector emits
for a created memory unless `extract_claims=false` or `no_supersede=true`. It runs the
extraction engine (force=true, no context) — network I/O and a clock, which is why this is
command-side code and not a projector — and produces ONE `claims.extracted` event for the
memory's subject with the flattened claims (≤ 20) and their embeddings. Claim ids derive
from the memory id (uuid5), so a redelivered request produces identical ids and the
projector skips it; the projector also skips a memory deleted in the meantime. Failures are
logged and swallowed, as in the reference: extraction never blocks or fails a write.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from commands.publisher import produce_event
from kernel.ai.extraction import ExtractedClaim, ExtractionEngine, flatten_claims, infer_claim_type
from kernel.ids import uuid7
from kernel.timefmt import now_ms
from schemas.changes import MEMORY_EXTRACTION_REQUESTED
from schemas.claim_events import ClaimAsserted
from schemas.decoding import LATEST
from schemas.envelope import ChangeEnvelope, EventEnvelope
from schemas.extraction_events import CLAIMS_EXTRACTED, ClaimsExtracted

log = logging.getLogger("core.commands.claim_extraction")
CLAIM_ID_NAMESPACE = uuid.UUID("0b7f3c52-9a55-4e55-8f0e-3c1f2a6d7e10")
ACTOR = "claim-extractor"
Embed = Callable[[str], Awaitable[list[float]]]


def derived_ids(memory_id: str, index: int) -> tuple[str, str]:
    """The claim and assertion ids of the index-th claim extracted from a memory."""
    name = f"{memory_id}/claims/{index}"
    return (f"clm_{uuid.uuid5(CLAIM_ID_NAMESPACE, name)}",
            f"ast_{uuid.uuid5(CLAIM_ID_NAMESPACE, name + '/assertion')}")


def extraction_request(raw: bytes) -> ChangeEnvelope | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") != MEMORY_EXTRACTION_REQUESTED:
        return None
    return ChangeEnvelope.model_validate(data)


async def claim_event(memory_id: str, index: int, claim: ExtractedClaim,
                      embed: Embed) -> ClaimAsserted:
    claim_id, assertion_id = derived_ids(memory_id, index)
    return ClaimAsserted(
        claim_id=claim_id, assertion_id=assertion_id, predicate=claim.predicate,
        object_value=claim.object_value, slot=claim.predicate,
        claim_type=claim.claim_type or infer_claim_type(claim.predicate),
        confidence=0.8 if claim.confidence is None else claim.confidence,
        source_memory_id=memory_id,
        embedding=await embed(f"{claim.predicate}: {claim.object_value}"))


@dataclass
class ClaimExtractor:
    engine: ExtractionEngine
    embed: Embed
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    topic: str

    async def handle(self, raw: bytes) -> None:
        try:
            request = extraction_request(raw)
            if request is None:
                return
            if self.engine.name == "simple":  # local heuristics cost less than the lookup
                await self._extract(request, check_alive=True)
            elif await self._memory_alive(request):  # no LLM call for a deleted memory
                await self._extract(request)
        except Exception:  # a failed extraction must never stop the agent
            log.exception("claim extraction failed")

    async def _memory_alive(self, request: ChangeEnvelope) -> bool:
        return bool(await self.pool.fetchval(
            "SELECT 1 FROM memories WHERE id = $1 AND project_id = $2 AND NOT is_deleted",
            request.payload["id"], request.project_id))

    async def _extract(self, request: ChangeEnvelope, check_alive: bool = False) -> None:
        memory_id, text = str(request.payload["id"]), str(request.payload["text"])
        found = await self.engine.extract(text.strip(), True, (), request.subject_id)
        if not flatten_claims(found) or (check_alive and not await self._memory_alive(request)):
            return
        claims = [await claim_event(memory_id, i, c, self.embed)
                  for i, c in enumerate(flatten_claims(found))]
        if claims:
            await self._produce(request, ClaimsExtracted(
                source_memory_id=memory_id, engine=self.engine.name, claims=claims))

    async def _produce(self, request: ChangeEnvelope, payload: ClaimsExtracted) -> None:
        event = EventEnvelope(
            event_id=uuid7(), type=CLAIMS_EXTRACTED, v=LATEST[CLAIMS_EXTRACTED],
            project_id=request.project_id, subject_id=request.subject_id,
            occurred_at=now_ms(), actor=ACTOR, payload=payload.model_dump(mode="json"))
        await produce_event(self.producer, self.topic, event)
