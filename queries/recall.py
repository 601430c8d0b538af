"""Recall engines (spec §6.2–6.4) as orchestration over injected async sources.

The database stays outside: a request binds project and subject into
`RecallSources` and hands them to `LLMRecall.recall` or `simple_recall`.
CORE decision §15 Q10: a failed or unparseable rerank keeps the pre-rerank order.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from kernel.ai.embeddings import Embedder
from kernel.ai.llm import (
    LLMClient,
    as_number,
    clamp,
    context_block,
    recent_context,
    string_list,
)

log = logging.getLogger("core.ai.recall")

STOP_WORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "does", "for", "from",
    "how", "i", "in", "is", "it", "me", "my", "of", "on", "or", "our", "personal",
    "preference", "preferences", "the", "to", "user", "users", "what", "where", "who",
    "why", "you", "your",
})
MODES = ("broad", "direct", "indirect")
CLAIMS_GROUP = "__claims__"


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    kind: str
    importance: float
    is_temporal: bool
    created_at: str
    score: float
    effective_score: float

    def with_scores(self, score: float, effective_score: float) -> Hit:
        return replace(self, score=score, effective_score=effective_score)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "text": self.text, "kind": self.kind, "importance": self.importance,
            "is_temporal": self.is_temporal, "created_at": self.created_at,
            "score": self.score, "effective_score": self.effective_score,
        }


StoreSearch = Callable[[str, list[float], int, float], Awaitable[list[Hit]]]
"""store_search(query, vector, limit, min_score): §6.2; an empty vector = lexical path."""
ListProfile = Callable[[int], Awaitable[list[Hit]]]
"""list_profile(limit): the subject's active memories, newest first."""
TruthSources = Callable[[list[str]], Awaitable[list[Hit]]]
"""truth_sources(predicates): active source memories of current-truth claims."""


@dataclass(frozen=True)
class RecallSources:
    store_search: StoreSearch
    list_profile: ListProfile
    truth_sources: TruthSources


@dataclass(frozen=True)
class RecallResult:
    hits: tuple[Hit, ...]
    mode: str
    used_queries: tuple[str, ...]
    predicates: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    mode: str = "indirect"
    predicates: tuple[str, ...] = ()
    search_hints: tuple[str, ...] = ()
    expanded_queries: tuple[str, ...] = ()


def tokenize_query(q: str) -> list[str]:
    """§6.2: lower-case, non [a-z0-9 whitespace] → space, ≥2 chars, no stop words, ≤10."""
    words = re.sub(r"[^a-z0-9\s]", " ", q.lower()).split()
    kept = (word for word in words if len(word) >= 2 and word not in STOP_WORDS)
    return list(dict.fromkeys(kept))[:10]


def clamp_limit(limit: int | None) -> int:
    return min(max(limit or 25, 1), 200)


def default_min_score(min_score: float | None) -> float:
    return 30.0 if min_score is None else min_score


async def embedded_search(
    embedder: Embedder, store_search: StoreSearch, query: str, limit: int, min_score: float
) -> list[Hit]:
    """Embed the query (failure = no vector) and run one store search."""
    vector = await embedder.embed(query)
    return await store_search(query, vector, limit, min_score)


async def simple_recall(
    embedder: Embedder, store_search: StoreSearch, query: str,
    limit: int | None = None, min_score: float | None = None,
) -> RecallResult:
    """§6.3: one store search with the embedded query."""
    limit, floor = clamp_limit(limit), default_min_score(min_score)
    hits = await embedded_search(embedder, store_search, query, limit, floor)
    return RecallResult(tuple(hits), "simple", (query,), ())


class SimpleRecall:
    name = "simple"

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    async def recall(
        self, sources: RecallSources, query: str, limit: int | None = None,
        min_score: float | None = None, context: Sequence[str] = (),
    ) -> RecallResult:
        return await simple_recall(self._embedder, sources.store_search, query, limit, min_score)


# --- classification (§6.4 step 1) -----------------------------------------------------

CLASSIFY_SYSTEM_PROMPT = """You are a memory retrieval router.
Classify the user's message into one mode:
- "broad": asks for an overall summary or profile of the user;
- "direct": asks for a specific personal fact about the user;
- "indirect": asks for advice or help where personal context helps.
Also extract:
- "predicates": 0-3 structured fields likely needed (snake_case, e.g. lives_in);
- "search_hints": 1-3 short keyword phrases to search memories with;
- "expanded_queries": 0-3 alternative search queries, only for "indirect".
Reply strictly as JSON:
{"mode":"broad|direct|indirect","predicates":[],"search_hints":[],"expanded_queries":[]}"""


def classification_from_reply(reply: object) -> Classification:
    if not isinstance(reply, dict):
        return Classification()
    mode = reply.get("mode")
    return Classification(
        mode=mode if isinstance(mode, str) and mode in MODES else "indirect",
        predicates=tuple(string_list(reply.get("predicates"), 3)),
        search_hints=tuple(string_list(reply.get("search_hints"), 3)),
        expanded_queries=tuple(string_list(reply.get("expanded_queries"), 3)),
    )


def query_set(query: str, found: Classification) -> tuple[str, ...]:
    """[query, hints…, expansions… (indirect only)] deduped case-insensitively, first 6."""
    expansions = found.expanded_queries if found.mode == "indirect" else ()
    unique: dict[str, str] = {}
    for candidate in (query, *found.search_hints, *expansions):
        text = candidate.strip()
        if text:
            unique.setdefault(text.lower(), text)
    return tuple(unique.values())[:6]


# --- merging (§6.4 steps 5–6) ---------------------------------------------------------

def rank_boost(rank: int) -> float:
    return 1.0 if rank == 0 else 1.0 - 0.03 * rank


def merge_groups(groups: Iterable[tuple[int, Sequence[Hit]]]) -> list[Hit]:
    """Boost each group's scores by its rank, keep each id's best copy, best first."""
    best: dict[str, Hit] = {}
    for rank, hits in groups:
        boost = rank_boost(rank)
        for hit in hits:
            boosted = hit.with_scores(hit.score * boost, hit.effective_score * boost)
            kept = best.get(hit.id)
            if kept is None or boosted.effective_score > kept.effective_score:
                best[hit.id] = boosted
    return sorted(best.values(), key=lambda hit: hit.effective_score, reverse=True)


def broad_selection(rows: Sequence[Hit], limit: int) -> list[Hit]:
    """§6.4 step 2: importance then recency, max(limit, 20) rows, score 100."""
    by_recency = sorted(rows, key=lambda hit: hit.created_at, reverse=True)
    ranked = sorted(by_recency, key=lambda hit: hit.importance, reverse=True)
    return [hit.with_scores(100.0, hit.importance) for hit in ranked[: max(limit, 20)]]


# --- rerank (§6.4 rerank) -------------------------------------------------------------

RERANK_SYSTEM_PROMPT = """You are a memory relevance judge.
Given the user's query and numbered candidate memories, select the candidates that are
relevant to answering the query and rank them, most relevant first.
Reply strictly as JSON:
{"ranked":[{"index":0,"relevant":true,"score":0.92}]}
Include only relevant candidates; score is between 0 and 1."""


def rerank_user_prompt(query: str, candidates: Sequence[Hit], context: Iterable[object]) -> str:
    lines = "\n".join(f"[{index}] {hit.text}" for index, hit in enumerate(candidates))
    return f'{context_block(context)}User query: "{query}"\n\nCandidates:\n{lines}'


def apply_rerank(reply: object, candidates: Sequence[Hit], k: int) -> list[Hit] | None:
    """The reranked top K, [] when the judge found nothing relevant, None if unusable."""
    entries = reply.get("ranked") if isinstance(reply, dict) else None
    if not isinstance(entries, list):
        return None
    indexed = [(_entry_index(e, len(candidates)), e) for e in entries if isinstance(e, dict)]
    valid = [(index, entry) for index, entry in indexed if index is not None]
    if entries and not valid:
        return None
    relevant = [(i, _entry_score(entry)) for i, entry in valid if entry.get("relevant") is True]
    best: dict[int, float] = {}
    for index, score in sorted(relevant, key=lambda pair: pair[1], reverse=True):
        best.setdefault(index, score)
    return [_lift(candidates[index], score * 100) for index, score in list(best.items())[:k]]


def _entry_index(entry: dict[str, Any], size: int) -> int | None:
    raw = entry.get("index")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not float(raw).is_integer():
        return None
    return int(raw) if 0 <= raw < size else None


def _entry_score(entry: dict[str, Any]) -> float:
    return clamp(as_number(entry.get("score")), 0.0, 1.0, default=0.5)


def _lift(hit: Hit, r: float) -> Hit:
    return hit.with_scores(max(hit.score, r), max(hit.effective_score, r))


# --- the LLM engine (§6.4) ------------------------------------------------------------

class LLMRecall:
    """Classify, then broad listing or multi-query search, claim boost, merge, rerank."""

    def __init__(
        self, client: LLMClient, embedder: Embedder,
        classify_timeout_s: float = 2.0, rerank_timeout_s: float = 3.0,
    ) -> None:
        self._client = client
        self._embedder = embedder
        self.classify_timeout_s = classify_timeout_s
        self.rerank_timeout_s = rerank_timeout_s

    @property
    def name(self) -> str:
        return self._client.name

    async def recall(
        self, sources: RecallSources, query: str, limit: int | None = None,
        min_score: float | None = None, context: Sequence[str] = (),
    ) -> RecallResult:
        query, limit, context = query.strip(), clamp_limit(limit), recent_context(context)
        if not query:
            return RecallResult((), "indirect", (), ())
        found = await self.classify(query, context)
        if found.mode == "broad":
            rows = await sources.list_profile(min(limit * 3, 200))
            hits = broad_selection(rows, limit)
            return RecallResult(tuple(hits), "broad", (query,), found.predicates)
        queries = query_set(query, found)
        groups, claimed = await asyncio.gather(
            self._search_all(sources, queries, min(limit * 2, 200), default_min_score(min_score)),
            _claim_hits(sources, found),
        )
        merged = merge_groups([*groups, (0, claimed)])
        hits = await self._select(found.mode, merged, bool(claimed), query, limit, context)
        return RecallResult(tuple(hits[:limit]), found.mode, queries, found.predicates)

    async def classify(self, query: str, context: Sequence[str] = ()) -> Classification:
        prompt = f'{context_block(context)}User message: "{query}"'
        try:
            reply = await self._client.complete_json(
                CLASSIFY_SYSTEM_PROMPT, prompt, self.classify_timeout_s, operation="classify"
            )
        except Exception as exc:  # any failure means "indirect, no hints"
            log.debug("recall classification failed: %r", exc)
            return Classification()
        return classification_from_reply(reply)

    async def rerank(
        self, query: str, candidates: Sequence[Hit], k: int, context: Sequence[str] = ()
    ) -> list[Hit]:
        usable = [hit for hit in candidates if len(hit.text.strip()) >= 10]
        if len(usable) <= k:
            return usable
        prompt = rerank_user_prompt(query, usable, context)
        try:
            reply = await self._client.complete_json(
                RERANK_SYSTEM_PROMPT, prompt, self.rerank_timeout_s, operation="rerank"
            )
        except Exception as exc:  # keep the pre-rerank order
            log.debug("recall rerank failed: %r", exc)
            return usable[:k]
        ranked = apply_rerank(reply, usable, k)
        return usable[:k] if ranked is None else ranked

    async def _search_all(
        self, sources: RecallSources, queries: Sequence[str], limit: int, min_score: float
    ) -> list[tuple[int, list[Hit]]]:
        searches = (
            embedded_search(self._embedder, sources.store_search, q, limit, min_score)
            for q in queries
        )
        return list(enumerate(await asyncio.gather(*searches)))

    async def _select(
        self, mode: str, merged: list[Hit], claimed: bool, query: str, limit: int,
        context: Sequence[str],
    ) -> list[Hit]:
        if mode == "direct" and (claimed or len(merged) <= limit):
            return merged[: min(limit, 5)]
        if len(merged) > limit:
            return await self.rerank(query, merged, limit, context)
        return merged[:limit]


async def _claim_hits(sources: RecallSources, found: Classification) -> list[Hit]:
    """§6.4 step 5: direct mode's current-truth source memories at score 100 / 120."""
    if found.mode != "direct" or not found.predicates:
        return []
    rows = await sources.truth_sources(list(found.predicates))
    return [hit.with_scores(100.0, 120.0) for hit in rows]


class RecallEngine(Protocol):
    @property
    def name(self) -> str: ...

    async def recall(
        self, sources: RecallSources, query: str, limit: int | None = None,
        min_score: float | None = None, context: Sequence[str] = (),
    ) -> RecallResult: ...


def build_recall_engine(
    client: LLMClient | None, embedder: Embedder, use_retrieval_expand: bool
) -> RecallEngine:
    """The §3.1 wiring: LLM recall only with a client and USE_RETRIEVAL_EXPAND on."""
    if client is not None and use_retrieval_expand:
        return LLMRecall(client, embedder)
    return SimpleRecall(embedder)
