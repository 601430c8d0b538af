"""The subjects projection's batch grouping and the subjects route's cursor and prefix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from projections.subjects import touched_subjects
from projections.unit_of_work import Change
from queries.subjects import decode_cursor, encode_cursor, like_prefix, subjects_query

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def row(project: str, subject: str, at: datetime) -> tuple[object, ...]:
    return (project, subject, 0, 1, "e", "memory.submitted", 1, at, "actor", None, {}, 201)


def change(project: str, subject: str, at: datetime, kind: str = "memory.deleted") -> Change:
    return Change("c", kind, project, subject, {}, "e", at)


def test_a_batch_groups_per_subject_with_its_latest_event() -> None:
    later = T0 + timedelta(seconds=3)
    touched = touched_subjects(
        [row("p", "a", later), row("p", "a", T0), row("p", "b", T0), row("q", "a", T0),
         row("p", "", later)],
        [change("p", "c", T0), change("p", "a", T0),
         change("q", "a", T0, "memory.extraction_requested")])
    assert touched == {("p", "a"): (later, True), ("p", "b"): (T0, False),
                       ("q", "a"): (T0, False), ("p", "c"): (T0, True)}


def test_a_cursor_round_trips_to_the_microsecond() -> None:
    cursor = encode_cursor(T0, "user/ü 42")
    assert decode_cursor(cursor) == (T0, "user/ü 42")
    assert "=" not in cursor


def test_foreign_cursors_are_refused() -> None:
    nul = encode_cursor(T0, "a\x00b")
    for text in ("", "not-a-cursor", "WzEsMl0", "WyJ4IiwieSJd", "Wzk5OTk5OTk5OTk5OTk5OTk5OSwieCJd",
                 nul):
        assert decode_cursor(text) is None, text


def test_prefix_wildcards_are_literal() -> None:
    assert like_prefix("a_b%c\\") == "a\\_b\\%c\\\\%"


def test_query_numbers_only_the_parameters_it_uses() -> None:
    sql, args = subjects_query("p", 10, "", (T0, "s"))
    assert "LIKE" not in sql and "< ($3, $4)" in sql and args == ["p", 10, T0, "s"]
    sql, args = subjects_query("p", 10, "te", None)
    assert "LIKE $3" in sql and args == ["p", 10, "te%"]
