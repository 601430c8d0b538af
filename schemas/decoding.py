"""The one decode function for `core.events`, used by projections, SSE, export and replay.

Sealed records (`schemas.sealing`) are opened first, with the data keys the caller looked
up for its batch; a record whose key is destroyed raises `Forgotten` (its subject was
forgotten: skipped by projectors and replays, redacted by export). Upcasters turn an old
`v` of a type into the next one at decode time, so the rest of the code only sees the
latest shape. An unknown type or version is a `DecodeError`; the projector dead-letters it
with the reason instead of stopping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from schemas.envelope import EventEnvelope
from schemas.memory_events import claims_not_decided, drop_recalled_text
from schemas.sealing import KeyDestroyed, SealError, SubjectKeys, open_record

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# latest version of every known event type
LATEST: dict[str, int] = {
    "memory.submitted": 2,
    "memory.patched": 1,
    "memory.deleted": 1,
    "memory.restored": 1,
    "memories.extracted": 1,
    "memory.recalled": 2,
    "claim.asserted": 1,
    "claim.retracted": 1,
    "claims.extracted": 1,
    "subject.forgotten": 1,
}

# (type, from_version) -> function producing the payload of from_version + 1
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("memory.recalled", 1): drop_recalled_text,
    ("memory.submitted", 1): claims_not_decided,
}


NO_KEYS: SubjectKeys = {}


class DecodeError(ValueError):
    pass


class Forgotten(DecodeError):
    """A sealed event whose data key is destroyed; `envelope` holds its clear fields."""

    def __init__(self, envelope: EventEnvelope) -> None:
        super().__init__(f"event {envelope.event_id} of a forgotten subject")
        self.envelope = envelope


def parse_record(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError("envelope is not an object")
    return data


def decode_event(raw: bytes, keys: SubjectKeys = NO_KEYS) -> EventEnvelope:
    return decode_typed(raw, keys)[0]


def decode_typed(raw: bytes, keys: SubjectKeys = NO_KEYS) -> tuple[EventEnvelope, BaseModel]:
    """The event and its payload as the registered model (validated once, here)."""
    data = parse_record(raw)
    try:
        data = open_record(data, "event_id", keys)
    except KeyDestroyed as exc:
        try:
            clear = EventEnvelope.model_validate({**data, "payload": {}})
        except ValidationError as invalid:
            raise DecodeError(f"invalid envelope: {invalid.errors()[0]['msg']}") from exc
        raise Forgotten(clear) from exc
    except SealError as exc:
        raise DecodeError(str(exc)) from exc
    return validate_typed(upcast(data))


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    event_type, version = data.get("type"), data.get("v")
    if event_type not in LATEST:
        raise DecodeError(f"unknown event type {event_type!r}")
    if not isinstance(version, int) or version < 1 or version > LATEST[event_type]:
        raise DecodeError(f"unknown version {version!r} of {event_type}")
    while version < LATEST[event_type]:
        upcaster = UPCASTERS[(event_type, version)]
        data = {**data, "payload": upcaster(data["payload"]), "v": version + 1}
        version += 1
    return data


def validate_envelope(data: dict[str, Any]) -> EventEnvelope:
    return validate_typed(data)[0]


def validate_typed(data: dict[str, Any]) -> tuple[EventEnvelope, BaseModel]:
    from schemas.registry import PAYLOADS

    try:
        envelope = EventEnvelope.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid envelope: {exc.errors()[0]['msg']}") from exc
    try:
        payload = PAYLOADS[envelope.type].model_validate(envelope.payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise DecodeError(f"invalid {envelope.type} payload at {error['loc']}: "
                          f"{error['msg']}") from exc
    return envelope, payload
