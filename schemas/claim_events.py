"""Claim command events (payloads inside an EventEnvelope on `core.events`, spec §8).

Compatibility rules: fields may be added with defaults in the same `v`; removing or
changing the meaning of a field needs `v + 1` and an upcaster in `schemas.decoding`.
Every id a projector writes travels in the event (`clm_…`, `ast_…`, assigned when the
command was accepted) and so does the embedding of `"<predicate>: <object_value>"`, so
the projector needs no network, clock or randomness.

Embeddings travel packed (`PackedVector`): base64 of little-endian float32, the precision
pgvector stores anyway, about a fifth of the JSON size of a float list — an extraction
event carries up to twenty of them and must stay well under Kafka's message limit. A plain
list of floats is accepted on input too.
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from schemas.envelope import FrozenModel

CLAIM_ASSERTED = "claim.asserted"
CLAIM_RETRACTED = "claim.retracted"
DEFAULT_RETRACT_REASON = "manual_retraction"


def pack_vector(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def unpack_vector(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    raw = base64.b64decode(value)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


PackedVector = Annotated[
    list[float], BeforeValidator(unpack_vector), PlainSerializer(pack_vector, return_type=str)
]


class ClaimAsserted(FrozenModel):
    """One claim about the event's subject, filed under `slot` (already defaulted)."""

    claim_id: str
    assertion_id: str
    predicate: str
    object_value: str
    slot: str
    claim_type: str | None = None  # None: inferred from the predicate by the projector
    confidence: float = 0.8
    importance: float = 0.5
    tags: list[str] = []
    source_memory_id: str | None = None
    source_observation_id: str | None = None
    subject_entity: str = "self"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    embedding: PackedVector = []


class ClaimRetracted(FrozenModel):
    claim_id: str
    reason: str = DEFAULT_RETRACT_REASON
