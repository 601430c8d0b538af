"""Validation of claim bodies (spec §8.1 with §15): the 400s, before anything is produced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from commands.coercion import coerce_required_str, js_string, numeric, string_list
from kernel.ids import assertion_id, claim_id
from kernel.input_limits import identifier
from kernel.input_limits import invalid as _invalid

IDENTIFIERS = ("subject_id", "predicate")


def required_claim(body: dict[str, Any]) -> tuple[str, str, str]:
    """subject_id, predicate, object_value — checked in that order."""
    found = []
    for name in ("subject_id", "predicate", "object_value"):
        value = coerce_required_str(body.get(name))
        if not value:
            raise _invalid(f"{name}_required")
        found.append(identifier(value, name) if name in IDENTIFIERS else value)
    return found[0], found[1], found[2]


def bounded(body: dict[str, Any], name: str, default: float) -> float:
    """Absent or null → default; a number (or numeric string) clamped to 0..1; else 400."""
    value = body.get(name)
    if value is None:
        return default
    number = numeric(value)
    if number is None:
        raise _invalid(f"invalid_{name}", message=f"{name} must be a number between 0 and 1")
    return min(max(number, 0.0), 1.0)


def timestamp(body: dict[str, Any], name: str) -> datetime | None:
    """Falsy → NULL; an ISO-8601 string → that instant (UTC when no offset); else 400."""
    value = body.get(name)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise _invalid(f"invalid_{name}", message=f"{name} must be an ISO-8601 timestamp")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def optional(value: Any) -> str | None:
    return js_string(value) if value else None


def optional_id(body: dict[str, Any], name: str) -> str | None:
    value = optional(body.get(name))
    return None if value is None else identifier(value, name)


def claim_fields(body: dict[str, Any], predicate: str) -> dict[str, Any]:
    """Everything of a claim body except subject, predicate and value, with §8.1 defaults."""
    return {
        "claim_id": optional_id(body, "claim_id") or claim_id(),
        "assertion_id": assertion_id(),
        "slot": optional_id(body, "slot") or predicate,
        "claim_type": optional(body.get("claim_type")),
        "confidence": bounded(body, "confidence", 0.8),
        "importance": bounded(body, "importance", 0.5),
        "tags": string_list(body.get("tags")),
        "source_memory_id": optional_id(body, "source_memory_id"),
        "source_observation_id": optional_id(body, "source_observation_id"),
        "subject_entity": optional(body.get("subject_entity")) or "self",
        "valid_from": timestamp(body, "valid_from"),
        "valid_until": timestamp(body, "valid_until"),
    }
