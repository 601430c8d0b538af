"""The event envelope shared by every event on `core.events`.

Compatibility rules: envelope fields are never removed or renamed. `type` is a stable,
past-tense wire name; `v` is the payload's schema version. A payload change that an old
reader cannot ignore gets a new `v` and an upcaster (see `schemas.decoding`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Events are facts: every schema model is immutable."""

    model_config = ConfigDict(frozen=True)


class EventEnvelope(FrozenModel):
    event_id: str
    type: str
    v: int
    project_id: str
    subject_id: str
    occurred_at: datetime
    actor: str
    idempotency_key: str | None = None
    payload: dict[str, Any]


class ChangeEnvelope(FrozenModel):
    """A derived lifecycle change on `core.changes`, relayed from the projector's outbox."""

    change_id: str
    type: str
    project_id: str
    subject_id: str
    occurred_at: datetime
    source_event_id: str
    payload: dict[str, Any]
