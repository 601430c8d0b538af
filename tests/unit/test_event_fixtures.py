"""Stored v1 fixtures of every event type keep decoding (upcast to the latest shape), and
unknown types, versions or malformed payloads are refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.decoding import LATEST, DecodeError, decode_event
from schemas.registry import PAYLOADS

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "v1"


def test_every_event_type_has_a_v1_fixture() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(LATEST) == set(PAYLOADS)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_v1_fixture_decodes(path: Path) -> None:
    event = decode_event(path.read_bytes())
    assert event.type == path.stem and event.v == LATEST[event.type]
    PAYLOADS[event.type].model_validate(event.payload)


def _fixture(name: str, **changes: object) -> bytes:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "not JSON"),
    (b"[1]", "not an object"),
    (_fixture("memory.deleted", type="memory.teleported"), "unknown event type"),
    (_fixture("memory.deleted", v=99), "unknown version"),
    (_fixture("memory.deleted", payload={"nope": 1}), "invalid memory.deleted payload"),
    (_fixture("memory.deleted", occurred_at="yesterday"), "invalid envelope"),
])
def test_refused_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_event(raw)
