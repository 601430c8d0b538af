"""Server-Sent Events: a line parser, and what a reconnecting reader needs to know."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from core_client._core import clean
from core_client.errors import CoreError, error_for
from core_client.models import Event

EVENTS_PATH = "/api/v1/events/memories"
CONTROL = frozenset({"connected", "heartbeat"})
"""Frames that only keep the stream and its position alive; not yielded unless asked."""


@dataclass
class Parser:
    """Feeds lines, returns each complete event (at its blank line)."""

    event: str = ""
    data: list[str] = field(default_factory=list)
    id: str | None = None

    def feed(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        elif name == "id":
            self.id = value
        return None

    def _dispatch(self) -> Event | None:
        if not self.event and not self.data:
            self.id = None
            return None
        raw = "\n".join(self.data)
        try:
            data: Any = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            data = raw
        found = Event(event=self.event or "message", data=data, id=self.id)
        self.event, self.data, self.id = "", [], None
        return found


@dataclass
class StreamState:
    """The stream's position (Last-Event-ID) and reconnect bookkeeping."""

    last_event_id: str | None = None
    failures: int = 0

    def seen(self, event: Event) -> None:
        if event.id is not None:
            self.last_event_id = event.id
        self.failures = 0

    def headers(self) -> dict[str, str]:
        headers = {"accept": "text/event-stream"}
        if self.last_event_id:
            headers["last-event-id"] = self.last_event_id
        return headers


def stream_params(subject_id: str | None, include_claims: bool) -> dict[str, Any]:
    return clean({"subject_id": subject_id, "include": "claims" if include_claims else None})


def wanted(event: Event, control: bool) -> bool:
    return control or event.event not in CONTROL


def refusal(status: int, body: Any) -> CoreError | None:
    """A refused stream: fatal (raised) unless it is worth retrying (None)."""
    if status == 429 or status >= 500:
        return None
    return error_for(status, body)
