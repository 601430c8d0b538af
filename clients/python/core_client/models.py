"""Pydantic models of CORE's answers (the shapes of /openapi.json's components), and the
typed field sets of the write bodies.

Models accept fields they do not know (a newer server may add some); the repository's tests
check that the models and the live OpenAPI document name exactly the same fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field

# --- bodies -------------------------------------------------------------------------------

Kind = Literal["fact", "preference", "context", "note", "event", "trait"]
Visibility = Literal["private", "shared", "public"]


class MemoryFields(TypedDict, total=False):
    """Optional fields of a new memory (spec §5.2)."""

    id: str
    kind: Kind
    visibility: Visibility
    importance: float
    confidence: float
    is_temporal: bool
    tags: list[str]
    metadata: dict[str, Any]
    source_type: str
    extract_claims: bool
    no_supersede: bool


class NewMemory(MemoryFields):
    """One item of `create_memories`: a create body."""

    subject_id: str
    text: str


class MemoryChanges(TypedDict, total=False):
    """Fields a PATCH may change (spec §5.4)."""

    text: str
    kind: Kind
    visibility: Visibility
    importance: float
    confidence: float
    is_temporal: bool
    tags: list[str]
    metadata: dict[str, Any]


class ClaimFields(TypedDict, total=False):
    """Optional fields of a new claim (spec §8.1); times as ISO-8601 strings."""

    claim_id: str
    claim_type: str
    slot: str
    confidence: float
    importance: float
    tags: list[str]
    source_memory_id: str
    source_observation_id: str
    subject_entity: str
    valid_from: str
    valid_until: str


class NewClaim(ClaimFields):
    """One item of `assert_claims`: an assert body."""

    subject_id: str
    predicate: str
    object_value: str


# --- answers ------------------------------------------------------------------------------


class Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Health(Model):
    ok: bool
    service: str
    timestamp: datetime


class Accepted(Model):
    """202: the command is in the log; its answer comes from `status_url` once projected."""

    accepted: bool
    event_id: str
    status_url: str


class CommandPending(Model):
    status: str
    event_id: str


class CommandStatus(Model):
    """The answer of GET /api/v1/commands/{event_id}: `pending`, or the final status and body."""

    event_id: str
    pending: bool
    status: int
    body: dict[str, Any]


class Memory(Model):
    id: str
    project_id: str
    subject_id: str
    text: str
    kind: str
    visibility: str
    importance: int
    confidence: float
    is_temporal: bool
    tags: list[str]
    metadata: Any
    status: str
    superseded_by: str | None
    source_type: str
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None
    seen_count: int
    reinforcement_count: int
    last_reinforced_at: datetime | None


class MemoryEnvelope(Model):
    data: Memory


class MemoryPage(Model):
    data: list[Memory]
    count: int


class MemoryWriteResult(Model):
    """POST /api/v1/memories: 201 created (with what it superseded) or 200 skipped duplicate."""

    id: str | None
    subject_id: str
    text: str
    kind: str
    created: bool
    superseded_count: int = 0
    superseded_ids: list[str] = Field(default_factory=list)
    skipped: bool = False
    reason: str | None = None


class MemoryUpdated(Model):
    id: str
    updated: bool


class MemoryDeleted(Model):
    ok: bool
    deleted: bool


class MemoryRestored(Model):
    ok: bool
    restored: bool
    id: str | None = None
    subject_id: str | None = None
    text: str | None = None
    message: str | None = None


class MemoryAssertion(Model):
    id: str
    predicate: str
    type: str
    value: Any
    confidence: float
    status: str
    first_seen_at: datetime
    last_seen_at: datetime


class MemoryAssertionPage(Model):
    data: list[MemoryAssertion]
    count: int


class SearchHit(Model):
    id: str
    text: str
    kind: str
    importance: float
    is_temporal: bool
    created_at: datetime
    score: float
    effective_score: float


class SearchResult(Model):
    data: list[SearchHit]
    query: str
    count: int
    engine: str
    mode: str
    used_queries: list[str]
    predicates: list[str]


class ExtractedClaim(Model):
    predicate: str
    object_value: str
    claim_type: str | None = None
    confidence: float | None = None


class ExtractedMemory(Model):
    text: str
    kind: str
    importance: float
    confidence: float
    is_temporal: bool
    visibility: str
    tags: list[str]
    claims: list[ExtractedClaim]


class ExtractPreview(Model):
    ok: bool
    learned: bool
    mode: str
    extracted_count: int
    memories: list[ExtractedMemory]


class LearnedMemory(Model):
    memory_id: str
    text: str
    kind: str
    claim_ids: list[str]


class ExtractLearned(Model):
    ok: bool
    learned: bool
    mode: str
    extracted_count: int
    learned_memory_count: int
    learned_claim_count: int
    memories: list[LearnedMemory]


class RecallEvent(Model):
    event_id: str
    project_id: str
    subject_id: str
    memory_id: str
    memory_text: str
    chat_id: str
    message_index: int
    chat_logged: bool
    similarity_score: float
    request_type: str
    model: str
    metadata: Any
    recalled_at: datetime


class RecallPage(Model):
    data: list[RecallEvent]
    count: int
    chat_id: str | None = None
    memory_id: str | None = None


class RecallStatsValues(Model):
    total_recalls: int
    unique_chats: int
    unique_subjects: int
    avg_score: float
    first_recalled_at: datetime | None
    last_recalled_at: datetime | None


class RecallStats(Model):
    memory_id: str
    stats: RecallStatsValues


class ClaimAsserted(Model):
    claim_id: str
    subject_id: str
    predicate: str
    object_value: str
    slot: str
    claim_type: str
    confidence: float
    observation_id: str | None
    linking_triggered: bool


class ClaimRetracted(Model):
    success: bool
    claim_id: str
    slot: str
    previous_claim_id: str | None
    restored_previous: bool
    reason: str


class Claim(Model):
    claim_id: str
    project_id: str
    subject_id: str
    predicate: str
    object_value: str
    slot: str
    claim_type: str
    confidence: float
    importance: float
    tags: list[str]
    source_memory_id: str | None
    source_observation_id: str | None
    subject_entity: str
    status: str
    asserted_at: datetime
    updated_at: datetime
    retracted_at: datetime | None
    retract_reason: str | None
    valid_from: datetime | None
    valid_until: datetime | None


class Assertion(Model):
    assertion_id: str
    project_id: str
    subject_id: str
    claim_id: str
    memory_id: str | None
    predicate: str
    object_type: str
    value_string: str | None
    value_number: float | None
    value_date: datetime | None
    value_json: Any
    confidence: float
    status: str
    first_seen_at: datetime
    last_seen_at: datetime


class Edge(Model):
    edge_id: int
    project_id: str
    subject_id: str
    from_claim_id: str
    to_claim_id: str
    edge_type: str
    weight: float
    reason_code: str | None
    reason_text: str | None
    created_at: datetime


class ClaimDetail(Model):
    claim: Claim
    assertions: list[Assertion]
    edges: list[Edge]
    supersession_chain: list[Edge]


class ClaimSource(Model):
    memory_id: str | None
    observation_id: str | None


class TruthSlot(Model):
    slot: str
    active_claim_id: str | None
    predicate: str
    object_value: str
    claim_type: str
    confidence: float
    tags: list[str]
    updated_at: datetime
    source_memory_id: str | None = None
    source_observation_id: str | None = None
    source: ClaimSource | None = None


class Truth(Model):
    subject_id: str
    project_id: str
    slot_count: int
    slots: list[TruthSlot]


class SlotTruth(Model):
    subject_id: str
    project_id: str
    slot: str
    active_claim_id: str
    predicate: str
    object_value: str
    claim_type: str
    confidence: float
    updated_at: datetime
    tags: list[str]
    source: ClaimSource


class SlotRow(Model):
    slot: str
    active_claim_id: str | None
    predicate: str
    object_value: str
    claim_type: str
    confidence: float
    tags: list[str]
    updated_at: datetime
    source_memory_id: str | None
    source_observation_id: str | None
    status: str
    claim_id: str | None = None
    superseded_by: str | None = None


class SlotGroups(Model):
    active: list[SlotRow]
    superseded: list[SlotRow]
    other: list[SlotRow]


class SlotListing(Model):
    subject_id: str
    total: int
    active_count: int
    slots: SlotGroups


class ClaimGraph(Model):
    subject_id: str
    claims_count: int
    edges_count: int
    edges_by_type: dict[str, int]
    claims: list[Claim]
    edges: list[Edge]


class ClaimHistory(Model):
    subject_id: str
    project_id: str
    slot_filter: str | None
    by_slot: dict[str, list[Claim]]
    edges: list[Edge]
    total_claims: int


class TimelineEvent(Model):
    position: str
    event_id: str
    type: str
    v: int
    occurred_at: datetime
    actor: str | None
    idempotency_key: str | None
    outcome_status: int | None
    payload: Any
    redacted: bool = False


class Timeline(Model):
    subject_id: str
    project_id: str
    count: int
    data: list[TimelineEvent]
    next_after: str | None


class BatchItemResult(Model):
    """One item's own answer: the status and body its single route would have given."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def error(self) -> str | None:
        return None if self.ok else str(self.body.get("error"))


class BatchResult(Model):
    results: list[BatchItemResult]


class Event(BaseModel):
    """One Server-Sent Event: its type, its JSON payload and the stream position after it."""

    event: str
    data: Any
    id: str | None = None
