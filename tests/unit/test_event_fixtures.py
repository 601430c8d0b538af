"""Stored v1 fixtures of every event type keep decoding (upcast to the latest shape), every
later version has its own fixture, and unknown types, versions or malformed payloads are
refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.decoding import LATEST, DecodeError, decode_event
from schemas.registry import PAYLOADS

pytestmark = pytest.mark.unit
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "v1"
LATER = sorted(FIXTURES.parent.glob("v[2-9]/*.json"))


def test_every_event_type_has_a_v1_fixture() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(LATEST) == set(PAYLOADS)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_v1_fixture_decodes(path: Path) -> None:
    event = decode_event(path.read_bytes())
    assert event.type == path.stem and event.v == LATEST[event.type]
    PAYLOADS[event.type].model_validate(event.payload)


def test_every_later_version_has_a_fixture() -> None:
    later = {(name, v) for name, v in LATEST.items() if v > 1}
    assert later <= {(p.stem, int(p.parent.name[1:])) for p in LATER}


@pytest.mark.parametrize("path", LATER, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_later_fixture_decodes_unchanged(path: Path) -> None:
    event = decode_event(path.read_bytes())
    assert event.payload == json.loads(path.read_text())["payload"]
    assert event.v == LATEST[event.type]


def test_recalled_v1_loses_its_text_on_upcast() -> None:
    event = decode_event((FIXTURES / "memory.recalled.json").read_bytes())
    assert event.payload["recalls"] == [{
        "event_id": "evt_00000000-0000-4000-8000-000000000009",
        "memory_id": "mem_00000000-0000-4000-8000-000000000001", "similarity_score": 87.5}]
    assert event.payload["chat_id"] == "chat-1"


def test_submitted_v1_has_no_claims_decided_at_write() -> None:
    """v1 memories were queued for the extraction agent; their upcast says so (None)."""
    event = decode_event((FIXTURES / "memory.submitted.json").read_bytes())
    assert event.v == 2 and event.payload["claims"] is None


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
