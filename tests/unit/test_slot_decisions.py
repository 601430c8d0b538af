"""Slot winners, supersession (§15 Q3) and retraction restore (§15 Q4) as pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.slot_decisions import (
    RETRACTS,
    SUPERSEDES,
    Edge,
    SlotClaim,
    SlotLedger,
    SlotState,
    claim_type_for,
    decide_assert,
    decide_retract,
)

pytestmark = pytest.mark.unit
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def claim(name: str, minute: int) -> SlotClaim:
    return SlotClaim(name, T0 + timedelta(minutes=minute))


def sup(new: str, old: str) -> Edge:
    return Edge(new, old, SUPERSEDES, "slot_superseded")


def ret(retracted: str, restored: str) -> Edge:
    return Edge(retracted, restored, RETRACTS, "manual_retraction", "manual_retraction")


def test_first_claim_wins_an_empty_slot_without_edges() -> None:
    assert decide_assert(None, "A") == decide_assert(SlotState(None, "retracted"), "A")
    assert decide_assert(None, "A").slot == SlotState("A", "active", None)
    assert decide_assert(None, "A").edges == ()


def test_new_claim_supersedes_the_active_winner() -> None:
    decision = decide_assert(SlotState("A", "active"), "B")
    assert decision.slot == SlotState("B", "active", None)
    assert decision.edges == (sup("B", "A"),)


A_B_C = SlotLedger().asserted(claim("A", 1)).asserted(claim("B", 2)).asserted(claim("C", 3))

# (step, ledger after it, winner, slot status, replaced_by, edges so far)
STEPS = [
    ("assert A, B, C", A_B_C, "C", "active", None, [sup("B", "A"), sup("C", "B")]),
    ("retract C → B restored", A_B_C.retracted("C"), "B", "active", "B",
     [sup("B", "A"), sup("C", "B"), ret("C", "B")]),
    ("retract A (not the winner) → nothing", A_B_C.retracted("C").retracted("A"), "B",
     "active", "B", [sup("B", "A"), sup("C", "B"), ret("C", "B")]),
    ("retract B → nothing left", A_B_C.retracted("C").retracted("A").retracted("B"), None,
     "retracted", None, [sup("B", "A"), sup("C", "B"), ret("C", "B")]),
    ("retract B instead → A restored", A_B_C.retracted("C").retracted("B"), "A", "active", "A",
     [sup("B", "A"), sup("C", "B"), ret("C", "B"), ret("B", "A")]),
    ("then retract A → slot retracted", A_B_C.retracted("C").retracted("B").retracted("A"),
     None, "retracted", None, [sup("B", "A"), sup("C", "B"), ret("C", "B"), ret("B", "A")]),
]


@pytest.mark.parametrize(("step", "ledger", "winner", "status", "replaced_by", "edges"), STEPS,
                         ids=[s[0] for s in STEPS])
def test_slot_after_each_step(step: str, ledger: SlotLedger, winner: str | None, status: str,
                              replaced_by: str | None, edges: list[Edge]) -> None:
    assert ledger.state == SlotState(winner, status, replaced_by)
    assert list(ledger.edges) == edges


def test_supersession_chain_per_claim() -> None:
    assert A_B_C.supersession_chain("A") == (sup("B", "A"),)
    assert A_B_C.supersession_chain("B") == (sup("B", "A"), sup("C", "B"))
    assert A_B_C.supersession_chain("C") == (sup("C", "B"),)
    assert A_B_C.retracted("C").supersession_chain("C") == (sup("C", "B"),)


@pytest.mark.parametrize(("current", "retracted", "others", "slot", "restored"), [
    (SlotState("C", "active"), "C", [claim("A", 1), claim("B", 2)],
     SlotState("B", "active", "B"), "B"),
    (SlotState("C", "active"), "A", [claim("B", 2), claim("C", 3)], None, None),
    (SlotState("A", "active"), "A", [], SlotState(None, "retracted", None), None),
    (SlotState(None, "retracted"), "A", [claim("B", 2)], None, None),
    (None, "A", [claim("B", 2)], None, None),
    (SlotState("C", "active"), "C", [SlotClaim("B", T0, active=False), claim("A", 1)],
     SlotState("A", "active", "A"), "A"),
    (SlotState("C", "active"), "C", [claim("b", 2), claim("a", 2)],
     SlotState("b", "active", "b"), "b"),
])
def test_retract_decisions(current: SlotState | None, retracted: str, others: list[SlotClaim],
                           slot: SlotState | None, restored: str | None) -> None:
    decision = decide_retract(current, retracted, others, "why")
    assert decision.slot == slot
    assert decision.restored_claim_id == restored
    assert decision.restored_previous is (restored is not None)
    expected = (Edge(retracted, restored, RETRACTS, "manual_retraction", "why"),)
    assert decision.edges == (expected if restored else ())


@pytest.mark.parametrize(("given_type", "predicate", "expected"), [
    ("custom", "favorite_color", "custom"),
    (None, "favorite_color", "preference"),
    ("", "likes_tea", "preference"),
    (None, "dislikes_rain", "preference"),
    (None, "career_goal", "goal"),
    (None, "wants_a_dog", "goal"),
    (None, "did_run", "event"),
    (None, "event_birthday", "event"),
    (None, "Favorite_color", "fact"),
    (None, "lives_in", "fact"),
])
def test_claim_type_inference(given_type: str | None, predicate: str, expected: str) -> None:
    assert claim_type_for(given_type, predicate) == expected


# --- property: the winner is always the newest claim not retracted ---------------------

operations = st.lists(st.one_of(st.just(("assert", 0)),
                                st.tuples(st.just("retract"), st.integers(0, 30))),
                      max_size=40)


def fold(ops: list[tuple[str, int]]) -> tuple[SlotLedger, list[str], set[str]]:
    ledger, asserted, retracted = SlotLedger(), [], set()
    for op, target in ops:
        if op == "assert":
            name = f"c{len(asserted):02d}"
            ledger = ledger.asserted(claim(name, len(asserted)))
            asserted.append(name)
        elif asserted:
            name = asserted[target % len(asserted)]
            ledger = ledger.retracted(name)
            retracted.add(name)
    return ledger, asserted, retracted


@given(operations)
def test_winner_is_newest_claim_not_retracted(ops: list[tuple[str, int]]) -> None:
    ledger, asserted, retracted = fold(ops)
    alive = [name for name in asserted if name not in retracted]
    if not asserted:
        assert ledger.state is None
    elif alive:
        assert ledger.state is not None and ledger.state.winner() == alive[-1]
    else:
        assert ledger.state == SlotState(None, "retracted", None)


@given(operations)
def test_refolding_the_same_events_gives_identical_state(ops: list[tuple[str, int]]) -> None:
    assert fold(ops) == fold(list(ops))


@given(operations)
def test_every_edge_is_supersedes_new_to_old_or_retracts_to_an_earlier_claim(
        ops: list[tuple[str, int]]) -> None:
    ledger, asserted, _ = fold(ops)
    for edge in ledger.edges:
        assert asserted.index(edge.from_claim_id) > asserted.index(edge.to_claim_id)
