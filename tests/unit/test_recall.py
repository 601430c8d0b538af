"""Recall engines (§6.2–6.4, §15 Q10) over fake sources and the stub AI server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kernel.ai.embeddings import Embedder
from kernel.ai.llm import LLMClient
from queries.recall import (
    STOP_WORDS,
    Classification,
    Hit,
    LLMRecall,
    RecallSources,
    SimpleRecall,
    apply_rerank,
    broad_selection,
    build_recall_engine,
    classification_from_reply,
    merge_groups,
    query_set,
    rank_boost,
    simple_recall,
    tokenize_query,
)
from tests.support.openai_stub import OpenAIStub, dead_base_url

pytestmark = pytest.mark.unit


def hit(
    id: str, effective: float = 50.0, score: float = 40.0, text: str | None = None,
    importance: float = 50, created_at: str = "2025-01-01T00:00:00.000Z",
) -> Hit:
    return Hit(id, text or f"memory text of {id}", "fact", importance, False, created_at,
               score, effective)


@dataclass
class FakeSources:
    """Scripted store: hits per query string, a profile listing, truth-source memories."""

    by_query: dict[str, list[Hit]] = field(default_factory=dict)
    profile: list[Hit] = field(default_factory=list)
    truth: list[Hit] = field(default_factory=list)
    searches: list[tuple[str, int, int, float]] = field(default_factory=list)
    profile_limits: list[int] = field(default_factory=list)
    truth_predicates: list[list[str]] = field(default_factory=list)

    async def store_search(
        self, query: str, vector: list[float], limit: int, min_score: float
    ) -> list[Hit]:
        self.searches.append((query, len(vector), limit, min_score))
        return self.by_query.get(query, [])[:limit]

    async def list_profile(self, limit: int) -> list[Hit]:
        self.profile_limits.append(limit)
        return self.profile[:limit]

    async def truth_sources(self, predicates: list[str]) -> list[Hit]:
        self.truth_predicates.append(predicates)
        return self.truth

    def sources(self) -> RecallSources:
        return RecallSources(self.store_search, self.list_profile, self.truth_sources)


# --- pure pieces ---------------------------------------------------------------------

def test_stop_words_are_the_36_of_the_spec() -> None:
    assert len(STOP_WORDS) == 36
    assert {"personal", "preferences", "users", "does", "i"} <= STOP_WORDS


@pytest.mark.parametrize(
    ("q", "tokens"),
    [
        ("What is my favorite café?", ["favorite", "caf"]),
        ("Where does the user LIVE, live, live!", ["live"]),
        ("a b c x1 y2", ["x1", "y2"]),
        ("one two three four five six seven eight nine ten eleven twelve",
         ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]),
        ("user's hobbies_list, personal preferences", ["hobbies", "list"]),
        ("", []),
    ],
)
def test_tokenize_query(q: str, tokens: list[str]) -> None:
    assert tokenize_query(q) == tokens


def test_classification_normalisation() -> None:
    reply = {"mode": "direct", "predicates": [" lives_in ", "", 3, "a", "b"],
             "search_hints": "nope", "expanded_queries": [None, "x"]}
    assert classification_from_reply(reply) == Classification(
        "direct", ("lives_in", "3", "a"), (), ("x",)
    )
    assert classification_from_reply({"mode": "Direct"}).mode == "indirect"
    assert classification_from_reply(None) == Classification()


def test_query_set_dedupes_case_insensitively_and_keeps_six() -> None:
    found = Classification("indirect", (), ("Oslo", " where I live "),
                           ("WHERE I LIVE", "home", "city"))
    assert query_set("where I live", found) == ("where I live", "Oslo", "home", "city")
    many = Classification("indirect", (), ("a", "b", "c"), ("d", "e", "f"))
    assert query_set("q", many) == ("q", "a", "b", "c", "d", "e")
    direct = Classification("direct", (), ("hint",), ("expansion",))
    assert query_set("q", direct) == ("q", "hint")


def test_rank_boost_decays_by_three_percent_per_rank() -> None:
    assert [round(rank_boost(r), 2) for r in range(6)] == [1.0, 0.97, 0.94, 0.91, 0.88, 0.85]


def test_merge_keeps_the_best_boosted_copy_per_id() -> None:
    merged = merge_groups([
        (0, [hit("a", 50, 40)]),
        (2, [hit("a", 60, 50), hit("b", 100, 100)]),
        (1, [hit("c", 50, 40)]),
    ])
    assert [(h.id, round(h.effective_score, 2), round(h.score, 2)) for h in merged] == [
        ("b", 94.0, 94.0), ("a", 56.4, 47.0), ("c", 48.5, 38.8),
    ]


def test_merge_ties_keep_the_first_seen() -> None:
    first, second = hit("a", 50, 1, text="first copy text"), hit("a", 50, 2, text="second copy")
    assert merge_groups([(0, [first]), (0, [second])])[0].text == "first copy text"


def test_broad_selection_orders_by_importance_then_recency() -> None:
    rows = [hit("old", importance=80, created_at="2024-01-01T00:00:00.000Z"),
            hit("low", importance=10),
            hit("new", importance=80, created_at="2025-06-01T00:00:00.000Z")]
    picked = broad_selection(rows, limit=1)
    assert [(h.id, h.score, h.effective_score) for h in picked] == [
        ("new", 100.0, 80), ("old", 100.0, 80), ("low", 100.0, 10),
    ]
    assert len(broad_selection([hit(str(i)) for i in range(50)], limit=5)) == 20
    assert len(broad_selection([hit(str(i)) for i in range(50)], limit=30)) == 30


def test_apply_rerank_parses_and_lifts_scores() -> None:
    candidates = [hit("a", 50, 40), hit("b", 95, 90), hit("c", 10, 5)]
    reply = {"ranked": [
        {"index": 2, "relevant": True, "score": 0.9}, {"index": 1, "relevant": True},
        {"index": 0, "relevant": False, "score": 1}, {"index": 7, "relevant": True},
        {"index": 1.0, "relevant": True, "score": 0.1}, {"index": "0", "relevant": True},
    ]}
    ranked = apply_rerank(reply, candidates, k=5)
    assert ranked is not None
    assert [(h.id, h.score, h.effective_score) for h in ranked] == [
        ("c", 90.0, 90.0), ("b", 90, 95),
    ]
    assert [h.id for h in apply_rerank(reply, candidates, k=1) or []] == ["c"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"ranked": []}, []),
        ({"ranked": [{"index": 0, "relevant": False}]}, []),
        (None, None),
        ({"other": 1}, None),
        ({"ranked": "x"}, None),
        ({"ranked": [{"index": 9, "relevant": True}, "junk"]}, None),
    ],
)
def test_apply_rerank_believes_nothing_but_flags_garbage(
    reply: object, expected: list[Hit] | None
) -> None:
    assert apply_rerank(reply, [hit("a")], k=1) == expected


# --- engines through the stub ----------------------------------------------------------

@pytest.fixture
async def embedder(stub: OpenAIStub) -> AsyncIterator[Embedder]:
    client = Embedder("key", base_url=stub.base_url)
    yield client
    await client.aclose()


@pytest.fixture
async def engine(stub: OpenAIStub, embedder: Embedder) -> AsyncIterator[LLMRecall]:
    client = LLMClient("openai", "gpt-4o-mini", "key", stub.base_url)
    yield LLMRecall(client, embedder, classify_timeout_s=0.3, rerank_timeout_s=0.3)
    await client.aclose()


async def test_simple_recall_is_one_embedded_search(embedder: Embedder) -> None:
    fake = FakeSources(by_query={"where do I live": [hit("a")]})
    result = await simple_recall(embedder, fake.store_search, "where do I live")
    assert (result.mode, result.used_queries, result.predicates) == (
        "simple", ("where do I live",), ()
    )
    assert [h.id for h in result.hits] == ["a"]
    assert fake.searches == [("where do I live", 1536, 25, 30.0)]
    await SimpleRecall(embedder).recall(fake.sources(), "q", limit=500, min_score=0)
    assert fake.searches[-1] == ("q", 1536, 200, 0)


async def test_broad_mode_lists_the_profile(stub: OpenAIStub, engine: LLMRecall) -> None:
    stub.script("classify", {"mode": "broad", "predicates": ["name"]})
    fake = FakeSources(profile=[hit(f"m{i}", importance=i) for i in range(40)])
    result = await engine.recall(fake.sources(), "tell me about me", limit=5, min_score=99)
    assert (result.mode, result.used_queries, result.predicates) == (
        "broad", ("tell me about me",), ("name",)
    )
    assert fake.profile_limits == [15] and fake.searches == []
    assert [h.id for h in result.hits] == [f"m{i}" for i in range(14, -1, -1)]
    assert {h.score for h in result.hits} == {100.0}


async def test_indirect_mode_searches_every_query_and_applies_rank_decay(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    stub.script("classify", {"mode": "indirect", "search_hints": ["diet"],
                             "expanded_queries": ["food allergies"]})
    fake = FakeSources(by_query={
        "what should I cook": [hit("a", 50, 50)],
        "diet": [hit("b", 100, 80)],
        "food allergies": [hit("a", 90, 90), hit("c", 40, 30)],
    })
    result = await engine.recall(fake.sources(), "what should I cook", limit=10, min_score=20)
    assert result.mode == "indirect"
    assert result.used_queries == ("what should I cook", "diet", "food allergies")
    assert sorted(fake.searches) == sorted(
        (q, 1536, 20, 20) for q in result.used_queries
    )
    assert [(h.id, round(h.effective_score, 2)) for h in result.hits] == [
        ("b", 97.0), ("a", 84.6), ("c", 37.6),
    ]
    assert stub.requests("rerank") == []


async def test_direct_mode_boosts_current_truth_and_returns_at_most_five(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    stub.script("classify", {"mode": "direct", "predicates": ["lives_in"],
                             "search_hints": ["home city"]})
    searched = [hit(f"s{i}", 90 - i) for i in range(8)]
    fake = FakeSources(by_query={"where do I live": searched}, truth=[hit("truth", 10, 1)])
    result = await engine.recall(fake.sources(), "where do I live", limit=10)
    assert fake.truth_predicates == [["lives_in"]]
    assert [h.id for h in result.hits] == ["truth", "s0", "s1", "s2", "s3"]
    assert (result.hits[0].score, result.hits[0].effective_score) == (100.0, 120.0)
    assert result.predicates == ("lives_in",)
    assert stub.requests("rerank") == []


async def test_direct_mode_without_truth_reranks_when_over_limit(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    stub.script("classify", {"mode": "direct", "predicates": ["job"]})
    stub.script("rerank", {"ranked": [{"index": 2, "relevant": True, "score": 0.99},
                                      {"index": 0, "relevant": True, "score": 0.5}]})
    fake = FakeSources(by_query={"my job": [hit(f"s{i}", 90 - i) for i in range(4)]})
    result = await engine.recall(fake.sources(), "my job", limit=3)
    assert [(h.id, h.effective_score) for h in result.hits] == [("s2", 99.0), ("s0", 90)]
    [request] = stub.requests("rerank")
    expected = 'User query: "my job"\n\nCandidates:\n[0] memory text of s0\n'
    assert request.user_prompt.startswith(expected)


async def test_rerank_skips_short_texts_and_small_candidate_sets(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    rows = [hit("short", 99, text=" tiny  "), hit("a", 50), hit("b", 40)]
    fake = FakeSources(by_query={"q": rows})
    result = await engine.recall(fake.sources(), "q", limit=2)
    assert [h.id for h in result.hits] == ["a", "b"]
    assert stub.requests("rerank") == []


@pytest.mark.parametrize(
    "script", [{"delay": 1.0}, {"raw": "this is not json"}, {"status": 500}, {"body": {"x": 1}}],
    ids=["timeout", "garbage", "http-error", "no-ranked-list"],
)
async def test_failed_or_unparseable_rerank_keeps_the_pre_rerank_order_q10(
    stub: OpenAIStub, engine: LLMRecall, script: dict[str, Any],
) -> None:
    stub.script("rerank", **script)
    fake = FakeSources(by_query={"q": [hit(f"s{i}", 90 - i) for i in range(6)]})
    result = await engine.recall(fake.sources(), "q", limit=3)
    assert result.mode == "indirect"
    assert [h.id for h in result.hits] == ["s0", "s1", "s2"]


async def test_a_rerank_that_finds_nothing_relevant_is_believed(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    stub.script("rerank", {"ranked": [{"index": 0, "relevant": False}]})
    fake = FakeSources(by_query={"q": [hit(f"s{i}") for i in range(6)]})
    assert (await engine.recall(fake.sources(), "q", limit=3)).hits == ()


async def test_classification_timeout_falls_back_to_indirect(
    stub: OpenAIStub, engine: LLMRecall,
) -> None:
    stub.script("classify", {"mode": "broad"}, delay=1.0)
    fake = FakeSources(by_query={"q": [hit("a")]})
    result = await engine.recall(fake.sources(), "q", limit=5)
    assert (result.mode, result.used_queries) == ("indirect", ("q",))
    assert [h.id for h in result.hits] == ["a"]


async def test_context_reaches_the_classifier(stub: OpenAIStub, engine: LLMRecall) -> None:
    await engine.recall(FakeSources().sources(), "q", context=["x", "", "y"])
    [request] = stub.requests("classify")
    assert request.user_prompt == '\nRecent conversation:\n1. x\n2. y\nUser message: "q"'


async def test_provider_down_still_answers_from_the_store() -> None:
    down = dead_base_url()
    client, embedder = LLMClient("cerebras", "m", "key", down), Embedder("key", base_url=down)
    fake = FakeSources(by_query={"q": [hit(f"s{i}", 90 - i) for i in range(4)]})
    result = await LLMRecall(client, embedder).recall(fake.sources(), "q", limit=2)
    await client.aclose()
    await embedder.aclose()
    assert result.mode == "indirect"
    assert [h.id for h in result.hits] == ["s0", "s1"]
    assert fake.searches == [("q", 0, 4, 30.0)]


async def test_empty_query_returns_nothing(stub: OpenAIStub, engine: LLMRecall) -> None:
    result = await engine.recall(FakeSources().sources(), "   ")
    assert (result.hits, result.mode, result.used_queries) == ((), "indirect", ())
    assert stub.requests() == []


def test_wiring_picks_the_engine(embedder: Embedder) -> None:
    client = LLMClient("openai", "gpt-4o-mini", "key", "http://127.0.0.1:9/v1")
    assert build_recall_engine(client, embedder, True).name == "openai:gpt-4o-mini"
    assert build_recall_engine(client, embedder, False).name == "simple"
    assert build_recall_engine(None, embedder, True).name == "simple"
    assert LLMRecall(client, embedder).classify_timeout_s == 2.0
    assert LLMRecall(client, embedder).rerank_timeout_s == 3.0
