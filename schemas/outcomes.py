"""The outcome of a command event: decided by the projector, served by the command side.

The projector stores it in `command_outcomes` and announces a batch's outcomes with as few
`NOTIFY`s on `OUTCOME_CHANNEL` as Postgres' payload limit allows: a notice is a JSON array
of entries, each with the event id and, when it fits, the status and body (an entry without
them makes the waiter read the table). A single entry object (older workers) is read too.
"""

from __future__ import annotations

from collections.abc import Iterable
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


def _entry(event_id: str, outcome: Outcome) -> bytes:
    text = orjson.dumps({"event_id": event_id, "status": outcome.status,
                         "body": outcome.body})
    if len(text) < NOTICE_LIMIT - 2:
        return text
    return orjson.dumps({"event_id": event_id})


def outcome_notices(outcomes: Iterable[tuple[str, Outcome]]) -> list[str]:
    """The notices announcing `outcomes` (event id, outcome), packed up to NOTICE_LIMIT."""
    notices: list[str] = []
    packed: list[bytes] = []
    size = 2
    for event_id, outcome in outcomes:
        entry = _entry(event_id, outcome)
        if packed and size + len(entry) + 1 > NOTICE_LIMIT:
            notices.append(_array(packed))
            packed, size = [], 2
        packed.append(entry)
        size += len(entry) + 1
    if packed:
        notices.append(_array(packed))
    return notices


def _array(entries: list[bytes]) -> str:
    return (b"[" + b",".join(entries) + b"]").decode()


def outcome_notice(event_id: str, outcome: Outcome) -> str:
    """The notice of one outcome."""
    return outcome_notices([(event_id, outcome)])[0]


def read_notice(payload: str) -> list[tuple[str, Outcome | None]]:
    """Each event id of a notice, with its outcome when the notice carries it."""
    message = orjson.loads(payload)
    entries = message if isinstance(message, list) else [message]
    return [(entry["event_id"],
             Outcome(entry["status"], entry["body"]) if "body" in entry else None)
            for entry in entries]
