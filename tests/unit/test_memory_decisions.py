"""The pure duplicate/supersession decision (spec §5.2, §15 Q15, Q22)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.memory_decisions import (
    DUPLICATE_AT,
    MAX_SUPERSEDED,
    SUPERSEDE_FROM,
    Similar,
    decide_submission,
)

pytestmark = pytest.mark.unit

similars = st.lists(
    st.builds(Similar, st.text(min_size=1, max_size=8), st.floats(0, 100)), max_size=80,
    unique_by=lambda s: s.memory_id)


def test_exact_repost_is_duplicate_even_without_similarities() -> None:
    assert decide_submission([], exact_repost=True, no_supersede=False).duplicate


def test_supersedes_the_moderately_similar_only() -> None:
    decision = decide_submission(
        [Similar("a", 59.9), Similar("b", 60.0), Similar("c", 84.9), Similar("d", 70)],
        exact_repost=False, no_supersede=False)
    assert decision == decide_submission([Similar("c", 84.9), Similar("d", 70),
                                          Similar("b", 60.0)], exact_repost=False,
                                         no_supersede=False)
    assert decision.supersede_ids == ("c", "d", "b") and not decision.duplicate


@given(similars, st.booleans(), st.booleans())
def test_decision_properties(similar: list[Similar], exact: bool, no_supersede: bool) -> None:
    decision = decide_submission(similar, exact_repost=exact, no_supersede=no_supersede)
    is_dup = exact or any(s.similarity >= DUPLICATE_AT for s in similar)
    assert decision.duplicate is is_dup
    if is_dup or no_supersede:
        assert decision.supersede_ids == ()
        return
    by_id = {s.memory_id: s.similarity for s in similar}
    eligible = [s for s in similar if SUPERSEDE_FROM <= s.similarity < DUPLICATE_AT]
    assert len(decision.supersede_ids) == min(len(eligible), MAX_SUPERSEDED)
    assert all(SUPERSEDE_FROM <= by_id[i] < DUPLICATE_AT for i in decision.supersede_ids)
    scores = [by_id[i] for i in decision.supersede_ids]
    assert scores == sorted(scores, reverse=True)
    if len(eligible) > MAX_SUPERSEDED:
        assert min(scores) >= sorted((s.similarity for s in eligible), reverse=True)[49]
