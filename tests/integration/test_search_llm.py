"""The LLM recall engine through the real API (§6.4 with §15 Q9–Q12), CORE_AI_MODE=openai on
the OpenAI stub: broad, direct with the truth boost, indirect with rerank, and every
fallback (classification timeout, rerank timeout, garbage and HTTP errors)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.test_search_vectors import Seed, project, search, seed
from tests.support.openai_stub import OpenAIStub, embed_text
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration
ENGINE = "openai:gpt-4o-mini"
HIKING = ["hiking boots need new laces", "a hiking trip to the Alps", "hiking poles in the car",
          "my favourite hiking trail", "hiking with the dog on Sundays", "hiking!"]


@pytest.fixture(scope="module")
async def llm(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_system(infra, env={"CORE_AI_MODE": "openai", "OPENAI_API_KEY": "test",
                                             "OPENAI_BASE_URL": stub.base_url})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def api(llm: System, stub: OpenAIStub) -> AsyncIterator[httpx.AsyncClient]:
    stub.reset()
    async with llm.client() as client:
        yield client


def texts(seeds: list[str], **fields: Any) -> list[Seed]:
    return [Seed(text, vector=embed_text(text), **fields) for text in seeds]


def rerank_candidates(stub: OpenAIStub) -> list[str]:
    (request,) = stub.requests("rerank")
    return re.findall(r"^\[\d+\] (.*)$", request.user_prompt, flags=re.MULTILINE)


async def test_broad_lists_the_profile(api: httpx.AsyncClient, llm: System,
                                       stub: OpenAIStub) -> None:
    headers = project()
    importances = [(7 * n) % 100 for n in range(18)]
    ids = await seed(llm, headers, "u1", "", [
        Seed(f"profile fact {n}", importance=imp) for n, imp in enumerate(importances)])
    stub.script("classify", {"mode": "broad", "predicates": ["job"], "search_hints": ["x"]})
    body = await search(api, headers, q="Tell me about me", limit="5", min_score="100")
    newest = sorted(range(3, 18), key=lambda n: (importances[n], n), reverse=True)
    assert [hit["id"] for hit in body["data"]] == [ids[n] for n in newest]  # 15 > limit (Q11)
    assert {hit["score"] for hit in body["data"]} == {100}
    assert [hit["effective_score"] for hit in body["data"]] == [importances[n] for n in newest]
    assert (body["engine"], body["mode"], body["used_queries"], body["predicates"]) == (
        ENGINE, "broad", ["Tell me about me"], ["job"])
    assert stub.requests("rerank") == []


async def test_direct_boosts_current_truth(api: httpx.AsyncClient, llm: System,
                                          stub: OpenAIStub) -> None:
    headers = project()
    source, river, castle = await seed(llm, headers, "u1", "", [
        *texts(["Lisbon has been home since 2019", "I live near the river"], importance=30),
        *texts(["I live in a castle"], deleted=True)])
    await seed(llm, headers, "u1", "", texts([f"I live happily, note {n}" for n in range(8)]))
    for predicate, slot, value, memory in (("lives_in", "lives_in", "Lisbon", source),
                                           ("lives_in", "second_home", "castle", castle),
                                           ("works_at", "works_at", "Acme", river)):
        created = await api.post("/api/v1/claims", headers=headers, json={
            "subject_id": "u1", "predicate": predicate, "slot": slot, "object_value": value,
            "source_memory_id": memory})
        assert created.status_code == 201, created.text
    stub.script("classify", {"mode": "direct", "predicates": ["lives_in"],
                             "search_hints": ["home city"]})
    body = await search(api, headers, q="Where do I live?", limit="10")
    assert body["data"][0]["id"] == source
    assert (body["data"][0]["score"], body["data"][0]["effective_score"]) == (100, 120)
    assert body["count"] == 5 and castle not in {hit["id"] for hit in body["data"]}  # Q12
    assert all(hit["effective_score"] < 120 for hit in body["data"][1:])
    assert (body["mode"], body["used_queries"], body["predicates"]) == (
        "direct", ["Where do I live?", "home city"], ["lives_in"])
    assert stub.requests("rerank") == []


async def test_indirect_expands_and_reranks(api: httpx.AsyncClient, llm: System,
                                            stub: OpenAIStub) -> None:
    headers = project()
    ids = dict(zip(HIKING, await seed(llm, headers, "u1", "", texts(HIKING)), strict=True))
    stub.script("classify", {"mode": "indirect", "search_hints": ["trail"],
                             "expanded_queries": ["mountain walks", "Trail", "hiking"]})
    stub.script("rerank", {"ranked": [
        {"index": 3, "relevant": True, "score": 0.9}, {"index": 1, "relevant": True, "score": 0.95},
        {"index": 0, "relevant": False, "score": 0.99}, {"index": 42, "relevant": True}]})
    context = [f"turn {n}" for n in range(1, 8)]
    body = await search(api, headers, q="plan a hiking trip", limit="3", context=context)
    assert body["used_queries"] == ["plan a hiking trip", "trail", "mountain walks", "hiking"]
    candidates = rerank_candidates(stub)
    assert sorted(candidates) == sorted(HIKING[:-1])  # "hiking!" is shorter than 10 characters
    assert [hit["id"] for hit in body["data"]] == [ids[candidates[1]], ids[candidates[3]]]
    assert body["data"][0]["score"] >= 95 and body["data"][0]["effective_score"] >= 95
    assert (body["mode"], body["count"]) == ("indirect", 2)
    recent = "Recent conversation:\n1. turn 3\n2. turn 4\n3. turn 5\n4. turn 6\n5. turn 7\n"
    assert recent in stub.requests("classify")[0].user_prompt
    assert recent in stub.requests("rerank")[0].user_prompt


async def test_classification_timeout_falls_back_to_indirect(
    api: httpx.AsyncClient, llm: System, stub: OpenAIStub
) -> None:
    headers = project()
    ids = await seed(llm, headers, "u1", "", texts(HIKING[:3]))
    stub.script("classify", {"mode": "broad", "predicates": ["p"]}, delay=2.6)
    started = time.monotonic()
    body = await search(api, headers, q="hiking", limit="10")
    assert 1.9 < time.monotonic() - started < 2.6
    assert (body["mode"], body["used_queries"], body["predicates"]) == ("indirect", ["hiking"], [])
    assert {hit["id"] for hit in body["data"]} == set(ids)


async def test_rerank_timeout_keeps_the_pre_rerank_order(
    api: httpx.AsyncClient, llm: System, stub: OpenAIStub
) -> None:
    headers = project()
    ids = dict(zip(HIKING, await seed(llm, headers, "u1", "", texts(HIKING)), strict=True))
    stub.script("rerank", {"ranked": [{"index": 4, "relevant": True}]}, delay=3.6)
    started = time.monotonic()
    body = await search(api, headers, q="hiking", limit="3")
    assert 2.9 < time.monotonic() - started < 3.6
    assert [hit["id"] for hit in body["data"]] == [ids[t] for t in rerank_candidates(stub)[:3]]


@pytest.mark.parametrize("reply", [{"raw": "not json at all"}, {"status": 500},
                                   {"body": {"ranked": "nope"}},
                                   {"body": {"ranked": [{"index": 99, "relevant": True}]}}])
async def test_unusable_rerank_keeps_the_pre_rerank_order(
    api: httpx.AsyncClient, llm: System, stub: OpenAIStub, reply: dict[str, Any]
) -> None:
    headers = project()
    ids = dict(zip(HIKING, await seed(llm, headers, "u1", "", texts(HIKING)), strict=True))
    stub.script("rerank", reply.get("body"), raw=reply.get("raw"), status=reply.get("status", 200))
    body = await search(api, headers, q="hiking", limit="2")
    assert [hit["id"] for hit in body["data"]] == [ids[t] for t in rerank_candidates(stub)[:2]]


@pytest.mark.parametrize("ranked", [[], [{"index": 0, "relevant": False, "score": 0.9}]])
async def test_rerank_that_finds_nothing_relevant_is_believed(
    api: httpx.AsyncClient, llm: System, stub: OpenAIStub, ranked: list[dict[str, Any]]
) -> None:
    headers = project()
    await seed(llm, headers, "u1", "", texts(HIKING))
    stub.script("rerank", {"ranked": ranked})
    body = await search(api, headers, q="hiking", limit="2")
    assert (body["data"], body["count"], body["mode"]) == ([], 0, "indirect")
