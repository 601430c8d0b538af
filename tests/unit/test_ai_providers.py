"""Provider resolution (§3.1), flag syntax, and the LLM client contract (§3.2, §15 Q19)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kernel.ai.llm import (
    LLMClient,
    LLMError,
    LLMTimeoutError,
    context_block,
    is_reasoning_model,
    reasoning_effort,
)
from kernel.ai.providers import (
    AIConfig,
    ResolvedProvider,
    config_from_env,
    engine_name,
    parse_flag,
    resolve_provider,
    search_engine_name,
)
from tests.support.openai_stub import OpenAIStub, dead_base_url

pytestmark = pytest.mark.unit

CEREBRAS_WARNING = (
    "[core] CORE_AI_MODE=cerebras but CEREBRAS_API is missing; falling back to simple mode."
)
OPENAI_WARNING = (
    "[core] CORE_AI_MODE=openai but OPENAI_API_KEY is missing; falling back to simple mode."
)
KEYS = {
    "no keys": ("", ""),
    "cerebras key": ("ck", ""),
    "openai key": ("", "ok"),
    "both keys": ("ck", "ok"),
}
CEREBRAS = ("cerebras", "cerebras", "gpt-oss-120b", ())
OPENAI = ("openai", "openai", "gpt-4o-mini", ())
SIMPLE = ("simple", None, None, ())
EXPECTED: dict[str, dict[str, tuple[object, ...]]] = {
    "auto": {"no keys": SIMPLE, "cerebras key": CEREBRAS, "openai key": OPENAI,
             "both keys": CEREBRAS},
    "cerebras": {"no keys": ("simple", None, None, (CEREBRAS_WARNING,)),
                 "cerebras key": CEREBRAS,
                 "openai key": ("simple", None, None, (CEREBRAS_WARNING,)),
                 "both keys": CEREBRAS},
    "openai": {"no keys": ("simple", None, None, (OPENAI_WARNING,)),
               "cerebras key": ("simple", None, None, (OPENAI_WARNING,)),
               "openai key": OPENAI, "both keys": OPENAI},
    "simple": dict.fromkeys(KEYS, SIMPLE),
    "garbage": dict.fromkeys(KEYS, SIMPLE),
}
TABLE = [(mode, keys, expected) for mode, row in EXPECTED.items() for keys, expected in row.items()]


@pytest.mark.parametrize(("mode", "keys", "expected"), TABLE)
def test_mode_resolution_table(mode: str, keys: str, expected: tuple[object, ...]) -> None:
    cerebras_key, openai_key = KEYS[keys]
    cfg = AIConfig(ai_mode=mode, cerebras_api_key=cerebras_key, openai_api_key=openai_key)
    resolved = resolve_provider(cfg)
    assert (resolved.mode, resolved.provider, resolved.model, resolved.warnings) == expected


def test_mode_is_trimmed_and_lower_cased_and_blank_means_auto() -> None:
    mixed_case = AIConfig(ai_mode="  CeReBrAs ", cerebras_api_key="k")
    assert resolve_provider(mixed_case).mode == "cerebras"
    assert resolve_provider(AIConfig(ai_mode=" ", openai_api_key="k")).mode == "openai"


def test_blank_keys_count_as_missing() -> None:
    resolved = resolve_provider(AIConfig(ai_mode="openai", openai_api_key="   "))
    assert resolved.mode == "simple"
    assert resolved.warnings == (OPENAI_WARNING,)


def test_retrieval_model_overrides_the_provider_default() -> None:
    cfg = AIConfig(cerebras_api_key="k", retrieval_model="llama-4")
    assert resolve_provider(cfg).model == "llama-4"
    blank = AIConfig(openai_api_key="k", retrieval_model=" ")
    assert resolve_provider(blank).model == "gpt-4o-mini"


def test_engine_names_follow_the_wiring_table() -> None:
    llm = ResolvedProvider("cerebras", "cerebras", "gpt-oss-120b")
    simple = ResolvedProvider("simple", None, None)
    assert engine_name(llm) == "cerebras:gpt-oss-120b"
    assert engine_name(simple) == "simple"
    assert search_engine_name(AIConfig(use_retrieval_expand=True), llm) == "cerebras:gpt-oss-120b"
    assert search_engine_name(AIConfig(use_retrieval_expand=False), llm) == "simple"
    assert search_engine_name(AIConfig(use_retrieval_expand=True), simple) == "simple"


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [
        ("1", False, True), ("true", False, True), (" YES ", False, True), ("On", False, True),
        ("0", True, False), ("false", True, False), (" No", True, False), ("OFF ", True, False),
        ("", True, True), ("", False, False), (None, True, True), ("maybe", False, False),
        ("2", True, True), ("enabled", False, False),
    ],
)
def test_parse_flag(raw: str | None, default: bool, expected: bool) -> None:
    assert parse_flag(raw, default) is expected


def test_config_from_env_reads_the_spec_variables() -> None:
    cfg = config_from_env({
        "CORE_AI_MODE": " OpenAI ", "OPENAI_API_KEY": "sk", "CEREBRAS_API": "ck",
        "RETRIEVAL_MODEL": "gpt-4.1-mini", "USE_RETRIEVAL_EXPAND": "off",
        "OPENAI_EMBED_MODEL": " ", "OPENAI_BASE_URL": "http://localhost:1/v1",
    })
    assert (cfg.embed_model, cfg.use_retrieval_expand) == ("text-embedding-3-small", False)
    assert cfg.base_url("openai") == "http://localhost:1/v1"
    assert cfg.base_url("cerebras") == "https://api.cerebras.ai/v1"
    assert resolve_provider(cfg) == ResolvedProvider("openai", "openai", "gpt-4.1-mini")
    assert config_from_env({}) == AIConfig()


@pytest.mark.parametrize(
    ("model", "reasoning", "effort"),
    [
        ("gpt-4o-mini", False, None), ("gpt-4.1", False, None), ("gpt-oss-120b", False, None),
        ("gpt-5", True, "minimal"), ("gpt-5-mini", True, "minimal"),
        ("gpt-5-nano-2025-08-07", True, "minimal"), ("gpt-5.1", True, "low"),
        ("o3-mini", True, "low"), ("o4-mini", True, "low"), ("o1-mini", True, None),
        ("gpt-5-pro", True, None), ("gpt-5-chat-latest", False, None), ("omni-x", False, None),
    ],
)
def test_reasoning_parameters_per_model(model: str, reasoning: bool, effort: str | None) -> None:
    assert is_reasoning_model(model) is reasoning
    assert reasoning_effort(model) == effort


def test_context_block_keeps_the_last_five_non_empty_items() -> None:
    block = context_block(["a", " ", "b", "c", "d", "e", " f "])
    assert block == "\nRecent conversation:\n1. b\n2. c\n3. d\n4. e\n5. f\n"
    assert context_block([]) == ""


# --- the client against the stub server, through the real SDK -----------------------

Calls = list[tuple[str, str, float, str]]


async def _client(provider: str, model: str, base_url: str, calls: Calls) -> LLMClient:
    return LLMClient(provider, model, "test-key", base_url, on_call=lambda *c: calls.append(c))


@pytest.fixture
async def calls() -> Calls:
    return []


@pytest.fixture
async def openai_llm(stub: OpenAIStub, calls: Calls) -> AsyncIterator[LLMClient]:
    client = await _client("openai", "gpt-4o-mini", stub.base_url, calls)
    yield client
    await client.aclose()


@pytest.fixture
async def cerebras_llm(stub: OpenAIStub, calls: Calls) -> AsyncIterator[LLMClient]:
    client = await _client("cerebras", "gpt-oss-120b", stub.base_url, calls)
    yield client
    await client.aclose()


ROUTER = "You are a memory retrieval router."


async def test_openai_non_reasoning_model_sends_temperature_and_no_reasoning(
    stub: OpenAIStub, openai_llm: LLMClient,
) -> None:
    stub.script("classify", {"mode": "direct"})
    assert await openai_llm.complete_json(ROUTER, "hello", 2.0) == {"mode": "direct"}
    [request] = stub.requests("classify")
    assert request.path == "/v1/responses"
    assert "reasoning" not in request.body
    assert request.body["temperature"] == 0
    assert request.body["store"] is False
    assert request.body["text"] == {"format": {"type": "json_object"}}
    assert [m["role"] for m in request.body["input"]] == ["developer", "user"]
    assert request.body["input"][1]["content"] == [{"type": "input_text", "text": "hello"}]
    assert request.headers["authorization"] == "Bearer test-key"


async def test_openai_reasoning_model_sends_reasoning_and_no_temperature(
    stub: OpenAIStub, calls: Calls,
) -> None:
    client = await _client("openai", "gpt-5-mini", stub.base_url, calls)
    await client.complete_json(ROUTER, "hello", 2.0)
    await client.aclose()
    [request] = stub.requests("classify")
    assert request.body["reasoning"] == {"effort": "minimal"}
    assert "temperature" not in request.body


async def test_cerebras_uses_chat_completions_in_json_mode(
    stub: OpenAIStub, cerebras_llm: LLMClient,
) -> None:
    stub.script("classify", {"mode": "broad"})
    assert await cerebras_llm.complete_json(ROUTER, "hi", 2.0) == {"mode": "broad"}
    [request] = stub.requests("classify")
    assert request.path == "/v1/chat/completions"
    assert request.body["response_format"] == {"type": "json_object"}
    assert request.body["model"] == "gpt-oss-120b"
    assert request.body["temperature"] == 0
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]


@pytest.mark.parametrize("raw", ["", "   ", "not json", "[1, 2]", '"text"', "{broken"])
async def test_empty_or_non_object_replies_are_none(
    stub: OpenAIStub, openai_llm: LLMClient, cerebras_llm: LLMClient, raw: str,
) -> None:
    stub.script("classify", raw=raw, times=2)
    assert await openai_llm.complete_json(ROUTER, "u", 2.0) is None
    assert await cerebras_llm.complete_json(ROUTER, "u", 2.0) is None


async def test_http_error_raises_with_the_spec_text(
    stub: OpenAIStub, cerebras_llm: LLMClient, calls: Calls,
) -> None:
    stub.script("classify", status=503)
    with pytest.raises(LLMError, match=r"^\[core:cerebras\] API error: 503 - "):
        await cerebras_llm.complete_json(ROUTER, "u", 2.0, operation="classify")
    assert [(c[0], c[1], c[3]) for c in calls] == [("cerebras", "classify", "error")]


async def test_timeout_raises_and_is_recorded(
    stub: OpenAIStub, openai_llm: LLMClient, calls: Calls,
) -> None:
    stub.script("classify", {"mode": "direct"}, delay=1.0)
    with pytest.raises(LLMTimeoutError):
        await openai_llm.complete_json(ROUTER, "u", 0.2, operation="classify")
    [(provider, operation, seconds, outcome)] = calls
    assert (provider, operation, outcome) == ("openai", "classify", "timeout")
    assert 0.15 < seconds < 0.9


async def test_network_error_raises(calls: Calls) -> None:
    client = await _client("openai", "gpt-4o-mini", dead_base_url(), calls)
    with pytest.raises(LLMError):
        await client.complete_json(ROUTER, "u", 2.0)
    await client.aclose()
    assert calls[0][3] == "error"


async def test_missing_key_raises_without_a_request(stub: OpenAIStub) -> None:
    client = LLMClient("cerebras", "gpt-oss-120b", "", stub.base_url)
    with pytest.raises(LLMError, match=r"CEREBRAS_API env var is not set"):
        await client.complete_json(ROUTER, "u", 2.0)
    await client.aclose()
    assert stub.requests() == []


async def test_client_from_resolved_honours_base_urls(stub: OpenAIStub) -> None:
    cfg = AIConfig(ai_mode="openai", openai_api_key="k", openai_base_url=stub.base_url)
    client = LLMClient.from_resolved(cfg, resolve_provider(cfg))
    assert client is not None and client.name == "openai:gpt-4o-mini"
    assert await client.complete_json(ROUTER, "u", 2.0) is not None
    await client.aclose()
    assert LLMClient.from_resolved(AIConfig(), resolve_provider(AIConfig())) is None
