"""The outcome of a command event: decided by the projector, served by the command side.

The projector stores it in `command_outcomes` and announces it with `NOTIFY` on
`OUTCOME_CHANNEL`; a notice carries the event id and, when it fits Postgres' payload
limit, the status and body (otherwise the waiter reads the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

OUTCOME_CHANNEL = "core_outcomes"
NOTICE_LIMIT = 7000
"""Bytes; Postgres refuses NOTIFY payloads of 8000 bytes or more."""


@dataclass(frozen=True)
class Outcome:
    """The command's answer: HTTP status and JSON body."""

    status: int
    body: Any


def outcome_notice(event_id: str, outcome: Outcome) -> str:
    text = orjson.dumps({"event_id": event_id, "status": outcome.status,
                         "body": outcome.body}).decode()
    if len(text) <= NOTICE_LIMIT:
        return text
    return orjson.dumps({"event_id": event_id}).decode()


def read_notice(payload: str) -> tuple[str, Outcome | None]:
    """The event id of a notice, and its outcome when the notice carries it."""
    message = orjson.loads(payload)
    if "body" not in message:
        return message["event_id"], None
    return message["event_id"], Outcome(message["status"], message["body"])
