"""Memory command events (payloads inside an EventEnvelope on `core.events`).

Compatibility rules: fields may be added with defaults in the same `v`; removing or
changing the meaning of a field needs `v + 1` and an upcaster. Every id a projector
writes travels in the event (assigned when the command was accepted), and so does the
embedding computed at write time, so projections need no network and no randomness.
"""

from __future__ import annotations

from typing import Any, Literal

from schemas.claim_events import ClaimAsserted
from schemas.envelope import FrozenModel

MEMORY_SUBMITTED = "memory.submitted"
MEMORY_PATCHED = "memory.patched"
MEMORY_DELETED = "memory.deleted"
MEMORY_RESTORED = "memory.restored"
MEMORIES_EXTRACTED = "memories.extracted"
MEMORY_RECALLED = "memory.recalled"
MEMORY_RECALLED_V = 2

Kind = Literal["fact", "preference", "context", "note", "event", "trait"]
Visibility = Literal["private", "shared", "public"]
KINDS: tuple[str, ...] = ("fact", "preference", "context", "note", "event", "trait")
VISIBILITIES: tuple[str, ...] = ("private", "shared", "public")


class MemorySubmitted(FrozenModel):
    """A new memory (spec §5.1), v2.

    `claims` are the claims decided at write time by a deterministic extraction engine (the
    simple one): the projector writes them in the memory's own transaction, and no
    background extraction is requested. None means "not decided at write time": the
    projector queues the memory for the extraction agent (LLM engine, and every v1 event,
    whose claims arrived later in their own `claims.extracted` event).
    """

    id: str
    text: str
    kind: Kind = "fact"
    visibility: Visibility = "private"
    importance: int = 50
    confidence: float = 0.95
    is_temporal: bool = False
    tags: list[str] = []
    metadata: Any = {}
    source_type: str = "explicit"
    extract_claims: bool = True
    no_supersede: bool = False
    embedding: list[float] = []
    claims: list[ClaimAsserted] | None = None


def claims_not_decided(payload: dict[str, Any]) -> dict[str, Any]:
    """Upcaster `memory.submitted` v1 → v2: a v1 memory's claims were never decided at
    write time (they came later through the extraction agent)."""
    return {**payload, "claims": None}


class MemoryPatched(FrozenModel):
    """PATCH of a memory (spec §5.4 with §15 Q7).

    `changes` holds only the fields the body carried, already validated and coerced to
    their stored form. `embedding` is the vector of the new text when one was computed;
    otherwise `clear_embedding` asks to drop the vector that the text change made stale.
    """

    id: str
    changes: dict[str, Any]
    embedding: list[float] | None = None
    clear_embedding: bool = False


class MemoryDeleted(FrozenModel):
    id: str


class MemoryRestored(FrozenModel):
    id: str


class RecalledMemory(FrozenModel):
    """One memory returned by a search: one `memory_recall_events` row.

    v2 carries ids and the score only: the memory's text is not copied into the log (kept
    forever, written by read-only keys); the projector takes it from `memories`. v1 also
    carried `memory_text`; its upcaster drops it.
    """

    event_id: str
    memory_id: str
    similarity_score: float = 0.0


def drop_recalled_text(payload: dict[str, Any]) -> dict[str, Any]:
    """Upcaster `memory.recalled` v1 → v2: the same recalls without their text."""
    recalls = [{k: v for k, v in r.items() if k != "memory_text"}
               for r in payload.get("recalls", []) if isinstance(r, dict)]
    return {**payload, "recalls": recalls}


class MemoryRecalled(FrozenModel):
    """A search with a `chat_id` returned these memories (spec §15 Q14), v2.

    Recorded after the fact, fire-and-forget: no command outcome is waited for. Every
    row id (`evt_<uuid>`) is assigned by the command; `recalled_at` is the event's
    `occurred_at`.
    """

    recalls: list[RecalledMemory]
    chat_id: str = ""
    message_index: int = 0
    model: str = ""
    request_type: str = "chat"
    metadata: Any = {}
