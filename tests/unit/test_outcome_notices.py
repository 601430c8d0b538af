"""A batch's outcomes travel in as few NOTIFY payloads as Postgres' limit allows."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.outcomes import NOTICE_LIMIT, Outcome, outcome_notices, read_notice

pytestmark = pytest.mark.unit

bodies = st.one_of(st.text(max_size=40), st.integers(0, 8000).map(lambda n: "é" * n))
outcomes = st.lists(st.tuples(st.uuids().map(str), st.integers(200, 599), bodies),
                    max_size=200)


@given(outcomes)
def test_every_outcome_is_announced_once_in_order_within_the_limit(
        items: list[tuple[str, int, str]]) -> None:
    given_outcomes = [(e, Outcome(s, {"text": b})) for e, s, b in items]
    notices = outcome_notices(given_outcomes)
    assert all(len(n.encode()) <= NOTICE_LIMIT for n in notices)
    read = [entry for notice in notices for entry in read_notice(notice)]
    assert [e for e, _ in read] == [e for e, _ in given_outcomes]
    for (_, outcome), (_, found) in zip(given_outcomes, read, strict=True):
        assert found is None or found == outcome
        if len(orjson.dumps(outcome.body)) < 1000:
            assert found == outcome


def test_a_hundred_small_outcomes_take_few_notices() -> None:
    notices = outcome_notices([(f"{n:036d}", Outcome(201, {"id": f"mem_{n}"}))
                               for n in range(100)])
    assert len(notices) <= 2


def test_a_single_object_notice_of_an_older_worker_is_read() -> None:
    old = orjson.dumps({"event_id": "e1", "status": 201, "body": {"id": "m"}}).decode()
    assert read_notice(old) == [("e1", Outcome(201, {"id": "m"}))]
