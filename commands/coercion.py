"""Body field coercion shared by the write routes (spec §5.2, §8.1 with §15)."""

from __future__ import annotations

import math
from typing import Any

from kernel.http import coerce_required_str, js_number

ABSENT: Any = object()


def js_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else js_string(v) for v in value)
    return str(value)


def numeric(value: Any) -> float | None:
    """A finite number from a JSON number or numeric string; None when not numeric."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip():
        number = js_number(value)
        return number if math.isfinite(number) else None
    return None


def clamp_number(value: Any, default: float, lo: float, hi: float) -> float:
    """Absent/non-numeric → default; `null` → 0 (JavaScript `Number(null)`); clamped."""
    if value is ABSENT:
        return default
    number = 0.0 if value is None else numeric(value)
    if number is None:
        return default
    return min(max(number, lo), hi)


def string_list(value: Any) -> list[str]:
    return [js_string(v) for v in value] if isinstance(value, list) else []


def optional_text(value: Any, default: str) -> str:
    return js_string(value) if value else default


__all__ = ["ABSENT", "clamp_number", "coerce_required_str", "js_string", "numeric",
           "optional_text", "string_list"]
