"""Validation of memory bodies: the spec's 400s, before anything is produced."""

from __future__ import annotations

import math
from typing import Any

from commands.coercion import (
    ABSENT,
    clamp_number,
    coerce_required_str,
    js_string,
    optional_text,
    string_list,
)
from kernel.input_limits import identifier
from kernel.input_limits import invalid as _invalid
from schemas.memory_events import KINDS, VISIBILITIES

MAX_TEXT = 10_000


def required_text(body: dict[str, Any]) -> tuple[str, str]:
    subject = coerce_required_str(body.get("subject_id"))
    if not subject:
        raise _invalid("subject_id_required")
    identifier(subject, "subject_id")
    text = coerce_required_str(body.get("text"))
    if not text:
        raise _invalid("text_required")
    if len(text) > MAX_TEXT:
        raise _invalid("text_too_long", max=MAX_TEXT)
    return subject, text


def client_id(body: dict[str, Any]) -> str | None:
    """The client's memory `id` (coerced to a string), or None for a generated one."""
    return identifier(js_string(body["id"]), "id") if body.get("id") else None


def choice(value: Any, allowed: tuple[str, ...], default: str, field: str) -> str:
    if not value:
        return default
    if value not in allowed:
        raise _invalid(f"invalid_{field}", allowed=list(allowed))
    return str(value)


def importance(value: Any, default: int = 50) -> int:
    return math.floor(clamp_number(value, default, 0, 100))


def confidence(value: Any, default: float = 0.95) -> float:
    return clamp_number(value, default, 0, 1)


def metadata(value: Any) -> Any:
    return value if isinstance(value, (dict, list)) else {}


def memory_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Everything of a create body except subject and text, coerced to the stored shape."""
    return {
        "kind": choice(body.get("kind"), KINDS, "fact", "kind"),
        "visibility": choice(body.get("visibility"), VISIBILITIES, "private", "visibility"),
        "importance": importance(body.get("importance", ABSENT)),
        "confidence": confidence(body.get("confidence", ABSENT)),
        "is_temporal": body.get("is_temporal") is True,
        "tags": string_list(body.get("tags")),
        "metadata": metadata(body.get("metadata")),
        "source_type": optional_text(body.get("source_type"), "explicit"),
        "extract_claims": body.get("extract_claims") is not False,
        "no_supersede": body.get("no_supersede") is True,
    }
