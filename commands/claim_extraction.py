"""Background claim extraction (spec §7.4), outside the fold: it runs the extraction engine
and records the result as its own event.

With the simple engine the command handler decides a memory's claims at write time
(`decided_at_write`) and they ride in `memory.submitted`. Otherwise (LLM engine, or a v1
event) the memory projector enqueues a request in `extraction_requests` — in the
transaction that creates the memory — unless `extract_claims=false` or `no_supersede=true`.
The queue is the agent's position: a request is deleted only in the transaction that saw
its event produced, so a crash, a Kafka or Postgres outage, or a redelivery loses none (at
least once). Each request runs the extraction engine (force=true, no context) — network I/O
and a clock, which is why this is command-side code and not a projector — and produces ONE
`claims.extracted` event for the memory's subject with the flattened claims (≤ 20) and their
embeddings. Claim ids derive from the memory id (uuid5), so a repeated request produces
identical ids and the projector keeps the first extraction; it also skips a memory deleted in
the meantime. An engine failure is logged and swallowed, as in the reference: extraction
never blocks or fails a write.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer

from commands.publisher import Seal, produce_event
from kernel.ai.extraction import ExtractedClaim, ExtractionEngine, flatten_claims, infer_claim_type
from kernel.ids import uuid7
from kernel.tasks import drain_when_woken
from kernel.timefmt import now_ms
from schemas.claim_events import ClaimAsserted
from schemas.decoding import LATEST
from schemas.envelope import EventEnvelope
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


ClaimDecider = Callable[[str, str], Awaitable[list[ClaimAsserted] | None]]
"""(memory id, text) → the claims decided at write time, or None (the agent decides)."""


async def decided_at_write(engine: ExtractionEngine | None, embed: Embed, memory_id: str,
                           text: str) -> list[ClaimAsserted] | None:
    """The claims of a new memory when the engine is a pure function of the text (the simple
    engine): decided once, here, and carried in `memory.submitted`. None for an engine whose
    answer must be recorded by the agent after the fact (LLM: slow, non-deterministic)."""
    if engine is None or engine.name != "simple":
        return None
    found = flatten_claims(await engine.extract(text.strip(), True))
    return [await claim_event(memory_id, i, claim, embed) for i, claim in enumerate(found)]


@dataclass(frozen=True)
class ExtractionRequest:
    project_id: str
    subject_id: str
    memory_id: str
    text: str


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
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    seal: Seal | None = None

    def wake(self) -> None:
        self.wakeup.set()

    async def run(self, idle_poll_s: float = 2.0, max_backoff_s: float = 10.0) -> None:
        """Drain the queue whenever woken (or every `idle_poll_s`, for requests enqueued by
        another worker); failures are retried with bounded backoff."""
        await drain_when_woken("claim extraction queue", self.drain, self.wakeup,
                               idle_poll_s=idle_poll_s, max_backoff_s=max_backoff_s)

    async def drain(self, batch: int = 20) -> int:
        """Handles queued requests until the queue is empty; a Postgres or Kafka failure
        leaves the unfinished requests queued (and raises, for the caller's backoff)."""
        handled = 0
        while await self._pending() and (taken := await self._take(batch)):
            handled += taken
        return handled

    async def _pending(self) -> bool:
        """One read before a locking transaction (idle polls cost a single round trip)."""
        return bool(await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM extraction_requests)"))

    async def _take(self, batch: int) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, project_id, subject_id, memory_id, text FROM extraction_requests "
                "ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", batch)
            for row in rows:
                await self.handle(ExtractionRequest(row["project_id"], row["subject_id"],
                                                    row["memory_id"], row["text"]))
            await conn.execute("DELETE FROM extraction_requests WHERE id = ANY($1::bigint[])",
                               [r["id"] for r in rows])
        return len(rows)

    async def handle(self, request: ExtractionRequest) -> None:
        if self.engine.name == "simple":  # local heuristics cost less than the lookup
            await self._extract(request, check_alive=True)
        elif await self._memory_alive(request):  # no LLM call for a deleted memory
            await self._extract(request)

    async def _memory_alive(self, request: ExtractionRequest) -> bool:
        return bool(await self.pool.fetchval(
            "SELECT 1 FROM memories WHERE id = $1 AND project_id = $2 AND NOT is_deleted",
            request.memory_id, request.project_id))

    async def _extract(self, request: ExtractionRequest, check_alive: bool = False) -> None:
        memory_id = request.memory_id
        try:
            found = await self.engine.extract(request.text.strip(), True, (), request.subject_id)
        except Exception:  # an engine failure never fails the write that asked (§7.4)
            log.exception("claim extraction failed for memory %s", memory_id)
            return
        if not flatten_claims(found) or (check_alive and not await self._memory_alive(request)):
            return
        claims = [await claim_event(memory_id, i, c, self.embed)
                  for i, c in enumerate(flatten_claims(found))]
        if claims:
            await self._produce(request, ClaimsExtracted(
                source_memory_id=memory_id, engine=self.engine.name, claims=claims))

    async def _produce(self, request: ExtractionRequest, payload: ClaimsExtracted) -> None:
        event = EventEnvelope(
            event_id=uuid7(), type=CLAIMS_EXTRACTED, v=LATEST[CLAIMS_EXTRACTED],
            project_id=request.project_id, subject_id=request.subject_id,
            occurred_at=now_ms(), actor=ACTOR, payload=payload.model_dump(mode="json"))
        await produce_event(self.producer, self.topic, event, self.seal)
