"""Input limits of the HTTP edge: what is refused before anything is produced.

* An identifier (project, subject, slot, predicate, a client-supplied id, an id in the path
  or the query) is at most `MAX_ID_BYTES` UTF-8 bytes. Identifiers are btree-indexed keys;
  Postgres refuses index rows over ~2.7 KB, so one over-long key, once in the log, would stop
  the projector. Over the limit: `400 {"error":"<field>_too_long","max_bytes":255}`.
* No string of a request (body strings, object keys and values at any depth, path segments,
  query keys and values) may contain NUL, which Postgres `text` and `jsonb` cannot store:
  `400 {"error":"invalid_character","field":"<top-level field or parameter>"}`.

See docs/security.md ("Input limits").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kernel.http import InvalidBody, body_fields, js_falsy, parse_body

MAX_ID_BYTES = 255
NUL = "\x00"
ID_QUERY_PARAMS = ("subject_id", "chat_id", "memory_id", "slot")
"""Query parameters that name an identifier, limited like one."""


@dataclass(frozen=True)
class Invalid(Exception):
    """A request refused with `status` and this JSON body; nothing was produced."""

    status: int
    body: dict[str, Any]


def invalid(code: str, **extra: Any) -> Invalid:
    return Invalid(400, {"error": code, **extra})


def invalid_character(field: str) -> Invalid:
    return invalid("invalid_character", field=field,
                   message=f"{field} must not contain NUL characters")


def fits(value: str) -> bool:
    """No NUL and at most MAX_ID_BYTES UTF-8 bytes: safe as a stored identifier."""
    return NUL not in value and len(value.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES


def identifier(value: str, field: str) -> str:
    """`value` if it fits an identifier; else `invalid_character` or `<field>_too_long`."""
    if NUL in value:
        raise invalid_character(field)
    if not fits(value):
        raise invalid(f"{field}_too_long", max_bytes=MAX_ID_BYTES)
    return value


def carries_nul(value: Any) -> bool:
    """A NUL in any string, key or element at any depth (iterative: no recursion limit)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def refuse_nul(fields: Iterable[tuple[str, Any]]) -> None:
    for name, value in fields:
        if NUL in name or carries_nul(value):
            raise invalid_character(name)


def checked_body(raw: bytes) -> dict[str, Any]:
    """The body's fields (spec §4.4) with no NUL anywhere; raises InvalidBody or Invalid."""
    return checked_value(parse_body(raw))


def checked_value(value: Any) -> dict[str, Any]:
    """`checked_body` of a body already parsed (a batch item)."""
    if js_falsy(value):
        raise InvalidBody
    fields = body_fields(value)
    refuse_nul(fields.items())
    return fields


def check_request(path_params: Mapping[str, str], query: Iterable[tuple[str, str]]) -> None:
    """Path segments are identifiers; query strings carry no NUL; id parameters fit."""
    for name, value in path_params.items():
        identifier(value, name)
    pairs = list(query)
    refuse_nul(pairs)
    for name, value in pairs:
        if name in ID_QUERY_PARAMS:
            identifier(value.strip(), name)

