"""HTTP conventions of the spec (§4): JSON bodies, query helpers, errors, project resolution."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kernel.timefmt import iso_ms

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return iso_ms(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: object) -> bytes:
    return orjson.dumps(body, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def json_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON_CONTENT_TYPE,
                    headers=dict(headers or {}))


def json_bytes(body: bytes, status: int = 200) -> Response:
    """A JSON document serialized elsewhere (e.g. by Postgres)."""
    return Response(body, status_code=status, media_type=JSON_CONTENT_TYPE)


def error(status: int, code: str, **extra: object) -> Response:
    return json_response(status, {"error": code, **extra})


class InvalidBody(Exception):
    """The body is not JSON, or JSON that is falsy (spec §4.4)."""


def parse_body(raw: bytes) -> Any:
    """Bytes → value: empty/whitespace → {}; invalid or falsy JSON → InvalidBody."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidBody from exc
    if js_falsy(value):
        raise InvalidBody
    return value


def js_falsy(value: Any) -> bool:
    if value is None or value is False or value == "":
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def body_fields(value: Any) -> dict[str, Any]:
    """A truthy non-object behaves like an object with none of the fields."""
    return value if isinstance(value, dict) else {}


# No two adjacent quantifiers can match the same digits: linear time on a long digit run.
_JS_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def js_number(raw: str) -> float:
    """JavaScript `Number(string)`: trimmed; '' → 0; hex/octal/binary; else NaN."""
    text = raw.strip()
    if text == "":
        return 0.0
    lowered = text.lower()
    for prefix, base in (("0x", 16), ("0o", 8), ("0b", 2)):
        if lowered.startswith(prefix):
            try:
                return float(int(text[2:], base))
            except ValueError:
                return math.nan
            except OverflowError:  # beyond a double, as in JavaScript
                return math.inf
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return math.inf if not text.startswith("-") else -math.inf
    return float(text) if _JS_NUMBER.fullmatch(text) else math.nan


def int_param(raw: str | None, fallback: int, lo: int, hi: int) -> int:
    """Integer with range (§4.5); an absent parameter uses the documented default (§15 Q1)."""
    if raw is None:
        return fallback
    number = js_number(raw)
    if not math.isfinite(number):
        return fallback
    if number < lo:
        return lo
    if number > hi:
        return hi
    return math.floor(number)


def bool_param(raw: str | None, fallback: bool) -> bool:
    if raw is None:
        return fallback
    return raw.lower() == "true"


def str_param(raw: str | None) -> str:
    return (raw or "").strip()


def coerce_required_str(value: Any) -> str:
    """Required body strings: "value or empty string → to string → trim" (§4.4)."""
    if value is None or value is False or value == 0 or value == "":
        return ""
    if value is True:
        return "true"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode().strip()
    return str(value).strip()


@dataclass(frozen=True)
class ProjectResolution:
    project_id: str | None


def resolve_project(request: Request, default_project: str) -> ProjectResolution:
    """`x-project-id`, else the default; a blank header falls back too (§15 Q2)."""
    header = request.headers.get("x-project-id")
    chosen = header.strip() if header and header.strip() else default_project
    return ProjectResolution(chosen.strip() or None)
