"""Extraction events (payloads inside an EventEnvelope on `core.events`, spec §7).

* `memories.extracted` — POST /api/v1/memories/extract with learn: the memories the engine
  found, with ids and embeddings assigned by the command, and each memory's claims.
  The projector stores the memories with `source_type = "inferred"` and
  `metadata = {"extracted_via": engine, "force": force}`.
* `claims.extracted` — the background claim extraction of one created memory (§7.4),
  produced by the claim extraction agent with claim ids derived from the memory id.

Extraction results are events, so a replay never calls an extractor again.
Compatibility rules: fields may be added with defaults in the same `v`; removing or
changing the meaning of a field needs `v + 1` and an upcaster in `schemas.decoding`.
"""

from __future__ import annotations

from schemas.claim_events import ClaimAsserted, PackedVector
from schemas.envelope import FrozenModel
from schemas.memory_events import Kind, Visibility

MEMORIES_EXTRACTED = "memories.extracted"
CLAIMS_EXTRACTED = "claims.extracted"


class LearnedMemory(FrozenModel):
    id: str
    text: str
    kind: Kind = "fact"
    visibility: Visibility = "private"
    importance: int = 50
    confidence: float = 0.8
    is_temporal: bool = False
    tags: list[str] = []
    embedding: PackedVector = []
    claims: list[ClaimAsserted] = []


class MemoriesExtracted(FrozenModel):
    engine: str
    force: bool = False
    memories: list[LearnedMemory]

    def metadata(self) -> dict[str, object]:
        return {"extracted_via": self.engine, "force": self.force}


class ClaimsExtracted(FrozenModel):
    source_memory_id: str
    engine: str
    claims: list[ClaimAsserted]
