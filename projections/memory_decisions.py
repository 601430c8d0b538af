"""Pure decisions for a submitted memory: duplicate skip and supersession (spec §5.2, §15).

Similarities are cosine similarity on a 0–100 scale, computed by Postgres over the
subject's active, non-deleted memories that have an embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DUPLICATE_AT = 85.0
SUPERSEDE_FROM = 60.0
MAX_SUPERSEDED = 50


@dataclass(frozen=True)
class Similar:
    memory_id: str
    similarity: float


@dataclass(frozen=True)
class SubmissionDecision:
    duplicate: bool
    supersede_ids: tuple[str, ...] = ()


def decide_submission(similar: Sequence[Similar], *, exact_repost: bool,
                      no_supersede: bool) -> SubmissionDecision:
    """Duplicate when an exact re-post or any similarity ≥ 85 exists (even with no_supersede);
    otherwise supersede up to 50 memories with 60 ≤ similarity < 85, most similar first."""
    if exact_repost or any(s.similarity >= DUPLICATE_AT for s in similar):
        return SubmissionDecision(duplicate=True)
    if no_supersede:
        return SubmissionDecision(duplicate=False)
    ranked = sorted((s for s in similar if SUPERSEDE_FROM <= s.similarity < DUPLICATE_AT),
                    key=lambda s: (-s.similarity, s.memory_id))
    return SubmissionDecision(False, tuple(s.memory_id for s in ranked[:MAX_SUPERSEDED]))
