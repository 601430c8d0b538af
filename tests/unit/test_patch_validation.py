"""PATCH body validation and coercion (spec §5.4 with §15 Q7)."""

from __future__ import annotations

from typing import Any

import pytest

from commands.patch_validation import boolean, patch_changes
from kernel.input_limits import Invalid

pytestmark = pytest.mark.unit


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(Invalid) as caught:
        patch_changes(body)
    assert caught.value.status == 400
    return caught.value.body


def test_empty_body_changes_nothing() -> None:
    assert patch_changes({}) == {}


def test_only_present_keys_are_changed() -> None:
    assert patch_changes({"kind": "trait", "status": "superseded", "subject_id": "x"}) == {
        "kind": "trait"}


def test_text_is_stringified_and_trimmed() -> None:
    assert patch_changes({"text": "  new text "}) == {"text": "new text"}
    assert patch_changes({"text": 42}) == {"text": "42"}


@pytest.mark.parametrize("text", [None, "", "   ", False, 0])
def test_missing_text_is_text_required(text: Any) -> None:
    assert error_of({"text": text}) == {"error": "text_required"}


def test_text_limit_counts_code_points() -> None:
    assert patch_changes({"text": "é" * 10_000})["text"] == "é" * 10_000
    assert error_of({"text": "x" * 10_001}) == {"error": "text_too_long", "max": 10000}


@pytest.mark.parametrize("kind", [None, "", "opinion", 3, ["fact"]])
def test_bad_kind(kind: Any) -> None:
    body = error_of({"kind": kind})
    assert body["error"] == "invalid_kind"
    assert body["allowed"] == ["fact", "preference", "context", "note", "event", "trait"]


@pytest.mark.parametrize("visibility", [None, "", "world"])
def test_bad_visibility(visibility: Any) -> None:
    assert error_of({"visibility": visibility}) == {
        "error": "invalid_visibility", "allowed": ["private", "shared", "public"]}


def test_first_bad_field_in_field_order_wins() -> None:
    assert error_of({"kind": None, "text": None})["error"] == "text_required"


@pytest.mark.parametrize(("raw", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("yes", True), (" TRUE ", True),
    ("t", True), ("on", True), ("of", False), ("no", False), ("f", False), ("0", False),
])
def test_boolean_accepts_what_postgres_reads(raw: Any, expected: bool) -> None:
    assert boolean(raw) is expected
    assert patch_changes({"is_temporal": raw}) == {"is_temporal": expected}


@pytest.mark.parametrize("raw", [None, "", "o", "maybe", 2, 1.5, [], {}])
def test_other_is_temporal_values_are_rejected(raw: Any) -> None:
    assert error_of({"is_temporal": raw}) == {"error": "invalid_is_temporal"}


@pytest.mark.parametrize(("raw", "expected"), [
    (70.9, 70), (150, 100), (-3, 0), (None, 0), ("12", 12), ("1e1", 10),
])
def test_importance_clamped_and_floored(raw: Any, expected: int) -> None:
    assert patch_changes({"importance": raw}) == {"importance": expected}


@pytest.mark.parametrize("raw", ["abc", True, [], {}])
def test_non_numeric_numbers_keep_the_stored_value(raw: Any) -> None:
    assert patch_changes({"importance": raw, "confidence": raw}) == {}


@pytest.mark.parametrize(("raw", "expected"), [(0.5, 0.5), (2, 1.0), (-1, 0.0), (None, 0.0)])
def test_confidence_clamped(raw: Any, expected: float) -> None:
    assert patch_changes({"confidence": raw}) == {"confidence": expected}


def test_tags_only_when_an_array() -> None:
    assert patch_changes({"tags": ["a", 1, None, True]}) == {"tags": ["a", "1", "null", "true"]}
    assert patch_changes({"tags": "a,b"}) == {}
    assert patch_changes({"tags": None}) == {}


@pytest.mark.parametrize(("raw", "expected"), [
    (None, {}), ({"a": 1}, {"a": 1}), ([1, 2], [1, 2]), ("x", "x"),
])
def test_metadata_any_value_null_is_empty_object(raw: Any, expected: Any) -> None:
    assert patch_changes({"metadata": raw}) == {"metadata": expected}
