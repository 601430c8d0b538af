"""AI mode resolution at API start (§3.1), seen in the search `engine` and the start-up log;
the Cerebras path end to end; a provider that is down (never a 5xx); provider-call metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from kernel.ai.llm import LLMError
from kernel.ai.wiring import build_ai
from kernel.settings import Settings
from tests.integration.test_search_vectors import Seed, project, search, seed, start_api_only
from tests.support.openai_stub import OpenAIStub, dead_base_url, embed_text
from tests.support.system import ARTIFACTS, Infra, System

pytestmark = pytest.mark.integration
MISSING_CEREBRAS = ("[core] CORE_AI_MODE=cerebras but CEREBRAS_API is missing; "
                    "falling back to simple mode.")


@pytest.fixture
async def started(infra: Infra) -> AsyncIterator[list[System]]:
    systems: list[System] = []
    try:
        yield systems
    finally:
        for system in systems:
            system.stop()


def api_log(system: System) -> str:
    return (ARTIFACTS / "logs" / f"api-{system.name}.log").read_text()


@pytest.mark.parametrize(("env", "engine", "lines"), [
    ({"OPENAI_API_KEY": "k", "USE_RETRIEVAL_EXPAND": "maybe"}, "openai:gpt-4o-mini",
     ["ai mode: openai (openai:gpt-4o-mini)", "retrieval expand: enabled"]),
    ({"CORE_AI_MODE": " OpenAI ", "OPENAI_API_KEY": "k", "RETRIEVAL_MODEL": "gpt-4.1-mini"},
     "openai:gpt-4.1-mini", ["ai mode: openai (openai:gpt-4.1-mini)"]),
    ({"CORE_AI_MODE": "cerebras", "OPENAI_API_KEY": "k"}, "simple",
     [MISSING_CEREBRAS, "ai mode: simple", "retrieval expand: disabled (simple mode)"]),
    ({"CORE_AI_MODE": "openai", "CEREBRAS_API": "c"}, "simple",
     ["CORE_AI_MODE=openai but OPENAI_API_KEY is missing; falling back to simple mode."]),
    ({"OPENAI_API_KEY": "k", "USE_RETRIEVAL_EXPAND": " OFF "}, "simple",
     ["ai mode: openai (openai:gpt-4o-mini)", "retrieval expand: disabled (simple mode)"]),
    ({"CORE_AI_MODE": "bogus", "OPENAI_API_KEY": "k"}, "simple", ["ai mode: simple"]),
])
async def test_mode_resolution_at_start(infra: Infra, stub: OpenAIStub, started: list[System],
                                        env: dict[str, str], engine: str,
                                        lines: list[str]) -> None:
    system = await start_api_only(infra, {**env, "OPENAI_BASE_URL": stub.base_url,
                                          "CEREBRAS_BASE_URL": stub.base_url})
    started.append(system)
    async with system.client() as api:
        body = await search(api, project(), q="anything")
    assert body["engine"] == engine
    log = api_log(system)
    assert all(line in log for line in lines), log
    if "bogus" in env.get("CORE_AI_MODE", ""):
        assert "falling back" not in log


async def test_cerebras_wins_in_auto_mode(infra: Infra, stub: OpenAIStub,
                                          started: list[System]) -> None:
    system = await start_api_only(infra, {"OPENAI_API_KEY": "k", "CEREBRAS_API": "c",
                                          "OPENAI_BASE_URL": stub.base_url,
                                          "CEREBRAS_BASE_URL": stub.base_url})
    started.append(system)
    headers = project()
    (ident,) = await seed(system, headers, "u1", "", [
        Seed("favourite tea is sencha", vector=embed_text("favourite tea is sencha"))])
    stub.reset()
    stub.script("classify", {"mode": "direct", "search_hints": ["sencha"]})
    async with system.client() as api:
        body = await search(api, headers, q="which tea do I like")
    assert (body["engine"], body["mode"]) == ("cerebras:gpt-oss-120b", "direct")
    assert [hit["id"] for hit in body["data"]] == [ident]
    (classify,) = stub.requests("classify")
    assert classify.path == "/v1/chat/completions"
    assert classify.body["model"] == "gpt-oss-120b"
    assert classify.headers["authorization"] == "Bearer c"


async def test_provider_down_degrades_to_lexical_results(infra: Infra,
                                                         started: list[System]) -> None:
    system = await start_api_only(infra, {"CORE_AI_MODE": "openai", "OPENAI_API_KEY": "k",
                                          "OPENAI_BASE_URL": dead_base_url()})
    started.append(system)
    headers = project()
    ids = await seed(system, headers, "u1", "", [
        Seed(f"garden note {n}", importance=10 * n) for n in range(5)])
    async with system.client() as api:
        body = await search(api, headers, q="garden", limit="3")
        other = await api.get("/api/v1/memories/search", headers=headers,
                              params={"subject_id": "u1", "q": "nothing matches this"})
    assert (body["engine"], body["mode"], body["predicates"]) == (
        "openai:gpt-4o-mini", "indirect", [])
    assert [hit["id"] for hit in body["data"]] == [ids[4], ids[3], ids[2]]
    assert {hit["score"] for hit in body["data"]} == {0}
    assert other.status_code == 200 and other.json()["data"] == []


def sample(name: str, operation: str, outcome: str) -> float:
    labels = {"provider": "openai", "operation": operation, "outcome": outcome}
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_provider_call_is_measured(stub: OpenAIStub) -> None:
    settings = Settings(CORE_AI_MODE="openai", OPENAI_API_KEY="k",
                        OPENAI_BASE_URL=stub.base_url, CORE_EMBED_TIMEOUT_MS=1000)
    ai = build_ai(settings, announce=False)
    before = {key: sample("core_provider_calls_total", *key) for key in (
        ("embed", "ok"), ("classify", "error"), ("classify", "timeout"), ("rerank", "ok"))}
    count_before = sample("core_provider_call_seconds_count", "embed", "ok")
    try:
        assert len(await ai.embedder.embed("hello")) == 1536
        stub.script("classify", status=503)
        stub.script("classify", {"mode": "broad"}, delay=2.5)
        assert ai.llm is not None
        for _ in range(2):
            with pytest.raises(LLMError):
                await ai.llm.complete_json("memory retrieval router", "q", 2.0,
                                           operation="classify")
        await ai.llm.complete_json("memory relevance judge", "q", 2.0, operation="rerank")
    finally:
        await ai.aclose()
    for key, value in before.items():
        assert sample("core_provider_calls_total", *key) == value + 1, key
    assert sample("core_provider_call_seconds_count", "embed", "ok") == count_before + 1
