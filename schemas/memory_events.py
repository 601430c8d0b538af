"""Memory command events (payloads inside an EventEnvelope on `core.events`).

Compatibility rules: fields may be added with defaults in the same `v`; removing or
changing the meaning of a field needs `v + 1` and an upcaster. Every id a projector
writes travels in the event (assigned when the command was accepted), and so does the
embedding computed at write time, so projections need no network and no randomness.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

MEMORY_SUBMITTED = "memory.submitted"
MEMORY_PATCHED = "memory.patched"
MEMORY_DELETED = "memory.deleted"
MEMORY_RESTORED = "memory.restored"
MEMORIES_EXTRACTED = "memories.extracted"
MEMORY_RECALLED = "memory.recalled"

Kind = Literal["fact", "preference", "context", "note", "event", "trait"]
Visibility = Literal["private", "shared", "public"]
KINDS: tuple[str, ...] = ("fact", "preference", "context", "note", "event", "trait")
VISIBILITIES: tuple[str, ...] = ("private", "shared", "public")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class MemorySubmitted(_Frozen):
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


class MemoryPatched(_Frozen):
    id: str
    changes: dict[str, Any]
    embedding: list[float] | None = None
    clear_embedding: bool = False


class MemoryDeleted(_Frozen):
    id: str


class MemoryRestored(_Frozen):
    id: str
