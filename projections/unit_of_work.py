"""What a projector handler sees while it applies one event inside the batch transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from pydantic import BaseModel

from schemas.envelope import EventEnvelope
from schemas.outcomes import Outcome

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Change:
    change_id: str
    type: str
    project_id: str
    subject_id: str
    payload: dict[str, Any]
    source_event_id: str
    occurred_at: Any


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


@dataclass
class EventTx:
    """One event's view of the transaction: the connection, the event and its change list."""

    conn: asyncpg.Connection
    event: EventEnvelope
    position: Position
    changes: list[Change] = field(default_factory=list)
    typed: BaseModel | None = None
    """The payload as decoding validated it (its registered model), when the caller has it."""

    def payload_as(self, model: type[M]) -> M:
        """The payload as `model`: the one decoding validated, else validated now."""
        if isinstance(self.typed, model):
            return self.typed
        return model.model_validate(self.event.payload)

    def emit(self, change_type: str, payload: dict[str, Any],
             subject_id: str | None = None) -> None:
        """Queue a derived change; its id derives from the source event, so replays match."""
        self.changes.append(Change(
            change_id=f"{self.event.event_id}:{len(self.changes)}",
            type=change_type, project_id=self.event.project_id,
            subject_id=subject_id if subject_id is not None else self.event.subject_id,
            payload=payload, source_event_id=self.event.event_id,
            occurred_at=self.event.occurred_at,
        ))


Handler = Callable[[EventTx], Awaitable[Outcome | None]]
