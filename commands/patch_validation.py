"""PATCH bodies (spec §5.4 with §15 Q7): each present field, validated and coerced.

A field overrides the stored value only when its key is present. Unlike the reference,
`null` (or an empty value) for text, kind, visibility or is_temporal and an over-long text
are 400s naming the field, and nothing is produced.
"""

from __future__ import annotations

import math
from typing import Any

from commands.coercion import coerce_required_str, numeric, string_list
from commands.memory_validation import MAX_TEXT
from kernel.input_limits import invalid as _invalid
from schemas.memory_events import KINDS, VISIBILITIES

# Postgres boolean input words; any unambiguous prefix is accepted, as Postgres does.
_BOOL_WORDS = (("true", True), ("yes", True), ("on", True), ("1", True),
               ("false", False), ("no", False), ("off", False), ("0", False))


def patched_text(value: Any) -> str:
    text = coerce_required_str(value)
    if not text:
        raise _invalid("text_required")
    if len(text) > MAX_TEXT:
        raise _invalid("text_too_long", max=MAX_TEXT)
    return text


def allowed(value: Any, choices: tuple[str, ...], field: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _invalid(f"invalid_{field}", allowed=list(choices))
    return value


def boolean(value: Any) -> bool:
    """JSON booleans, 0/1, and the strings Postgres reads as booleans ('yes', 'f', ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        found = {flag for name, flag in _BOOL_WORDS if word and name.startswith(word)}
        if len(found) == 1:
            return found.pop()
    raise _invalid("invalid_is_temporal")


def clamped(value: Any, lo: float, hi: float) -> float | None:
    """`null` → 0 (JavaScript `Number(null)`); non-numeric → None (keep the stored value)."""
    number = 0.0 if value is None else numeric(value)
    return None if number is None else min(max(number, lo), hi)


def _numbers(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "importance" in body and (importance := clamped(body["importance"], 0, 100)) is not None:
        changes["importance"] = math.floor(importance)
    if "confidence" in body and (confidence := clamped(body["confidence"], 0, 1)) is not None:
        changes["confidence"] = confidence
    return changes


def patch_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of every patchable field present in `body`; raises `Invalid`."""
    changes: dict[str, Any] = {}
    if "text" in body:
        changes["text"] = patched_text(body["text"])
    if "kind" in body:
        changes["kind"] = allowed(body["kind"], KINDS, "kind")
    if "visibility" in body:
        changes["visibility"] = allowed(body["visibility"], VISIBILITIES, "visibility")
    if "is_temporal" in body:
        changes["is_temporal"] = boolean(body["is_temporal"])
    changes.update(_numbers(body))
    if isinstance(body.get("tags"), list):
        changes["tags"] = string_list(body["tags"])
    if "metadata" in body:
        changes["metadata"] = {} if body["metadata"] is None else body["metadata"]
    return changes
