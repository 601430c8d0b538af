"""Payload model of every (event type, latest version): decoding validates against it, so a
malformed payload is dead-lettered instead of reaching a projector."""

from __future__ import annotations

from pydantic import BaseModel

from schemas.claim_events import ClaimAsserted, ClaimRetracted
from schemas.extraction_events import ClaimsExtracted, MemoriesExtracted
from schemas.memory_events import (
    MemoryDeleted,
    MemoryPatched,
    MemoryRecalled,
    MemoryRestored,
    MemorySubmitted,
)
from schemas.subject_events import SubjectForgotten

PAYLOADS: dict[str, type[BaseModel]] = {
    "memory.submitted": MemorySubmitted,
    "memory.patched": MemoryPatched,
    "memory.deleted": MemoryDeleted,
    "memory.restored": MemoryRestored,
    "memory.recalled": MemoryRecalled,
    "memories.extracted": MemoriesExtracted,
    "claim.asserted": ClaimAsserted,
    "claim.retracted": ClaimRetracted,
    "claims.extracted": ClaimsExtracted,
    "subject.forgotten": SubjectForgotten,
}
