"""Pure slot logic for claims (spec §8.1–8.2 with CORE's decisions Q3 and Q4, §15).

* Asserting: the new claim becomes the slot's winner; when the slot had an active winner,
  a `supersedes` edge new → old is written (the old claim stays `active` in `claims`).
* Retracting: only the slot's winner hands the slot over — to the newest other active
  claim of that slot (every other active claim is earlier than the winner, because a new
  claim always wins). With none left the slot becomes `retracted` with no active claim.
  Retracting a claim that is not the winner leaves the slot untouched.

"Newest" is decided by (asserted_at, claim_id), which is deterministic on replay.
`SlotLedger` folds these decisions in memory; the projector applies the same decisions
to rows it loads in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from kernel.ai.extraction import infer_claim_type

SUPERSEDES = "supersedes"
RETRACTS = "retracts"


@dataclass(frozen=True)
class SlotClaim:
    claim_id: str
    asserted_at: datetime
    active: bool = True

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.asserted_at, self.claim_id)


@dataclass(frozen=True)
class SlotState:
    active_claim_id: str | None
    status: str  # active | superseded | retracted
    replaced_by_claim_id: str | None = None

    def winner(self) -> str | None:
        return self.active_claim_id if self.status == "active" else None


@dataclass(frozen=True)
class Edge:
    from_claim_id: str
    to_claim_id: str
    edge_type: str
    reason_code: str
    reason_text: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class AssertDecision:
    slot: SlotState
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class RetractDecision:
    slot: SlotState | None  # None: the slot is untouched
    restored_claim_id: str | None
    edges: tuple[Edge, ...]

    @property
    def restored_previous(self) -> bool:
        return self.restored_claim_id is not None


def decide_assert(current: SlotState | None, new_claim_id: str) -> AssertDecision:
    """The new claim wins; an active previous winner is superseded by it (Q3)."""
    old = current.winner() if current is not None else None
    edges: tuple[Edge, ...] = ()
    if old is not None and old != new_claim_id:
        edges = (Edge(new_claim_id, old, SUPERSEDES, "slot_superseded"),)
    return AssertDecision(SlotState(new_claim_id, "active"), edges)


def decide_retract(current: SlotState | None, claim_id: str,
                   others_active: Iterable[SlotClaim], reason: str) -> RetractDecision:
    """Q4: restore the newest other active claim only when `claim_id` was the winner."""
    if current is None or current.winner() != claim_id:
        return RetractDecision(None, None, ())
    candidates = [c for c in others_active if c.active and c.claim_id != claim_id]
    if not candidates:
        return RetractDecision(SlotState(None, "retracted"), None, ())
    restored = max(candidates, key=lambda c: c.order).claim_id
    edge = Edge(claim_id, restored, RETRACTS, "manual_retraction", reason)
    return RetractDecision(SlotState(restored, "active", restored), restored, (edge,))


def claim_type_for(given: str | None, predicate: str) -> str:
    """§8.1: the given type if truthy, else inferred from the (case-sensitive) predicate."""
    return given or infer_claim_type(predicate)


@dataclass(frozen=True)
class SlotLedger:
    """One slot's claims, state and edges, folded in memory from asserts and retracts."""

    claims: tuple[SlotClaim, ...] = ()
    state: SlotState | None = None
    edges: tuple[Edge, ...] = ()

    def asserted(self, claim: SlotClaim) -> SlotLedger:
        decision = decide_assert(self.state, claim.claim_id)
        return SlotLedger(self.claims + (claim,), decision.slot, self.edges + decision.edges)

    def retracted(self, claim_id: str, reason: str = "manual_retraction") -> SlotLedger:
        others = [c for c in self.claims if c.claim_id != claim_id]
        decision = decide_retract(self.state, claim_id, others, reason)
        claims = tuple(replace(c, active=False) if c.claim_id == claim_id else c
                       for c in self.claims)
        state = decision.slot if decision.slot is not None else self.state
        return SlotLedger(claims, state, self.edges + decision.edges)

    def supersession_chain(self, claim_id: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges if e.edge_type == SUPERSEDES
                     and claim_id in (e.from_claim_id, e.to_claim_id))
