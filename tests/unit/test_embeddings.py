"""Embeddings (§3.3) that never raise, the pgvector literal, and the stub's vectors."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from kernel.ai.embeddings import NO_KEY_WARNING, Embedder, clean_vector, vector_literal
from kernel.ai.providers import AIConfig
from tests.support.openai_stub import OpenAIStub, cosine, dead_base_url, embed_text

pytestmark = pytest.mark.unit

Calls = list[tuple[str, str, float, str]]


@pytest.fixture
def calls() -> Calls:
    return []


@pytest.fixture
async def embedder(stub: OpenAIStub, calls: Calls) -> AsyncIterator[Embedder]:
    client = Embedder("key", base_url=stub.base_url, timeout_s=0.3,
                      on_call=lambda *c: calls.append(c))
    yield client
    await client.aclose()


def test_clean_vector_drops_non_finite_and_normalises_negative_zero() -> None:
    cleaned = clean_vector([0.5, math.nan, -0.0, math.inf, -math.inf, 2, True, "x", None])
    assert cleaned == [0.5, 0.0, 2.0]
    assert math.copysign(1.0, cleaned[1]) == 1.0


def test_vector_literal_is_the_pgvector_text_form() -> None:
    assert vector_literal([0.25, -1, -0.0, math.nan, 1e-07]) == "[0.25,-1.0,0.0,1e-07]"
    assert vector_literal([]) == "[]"


async def test_embeds_trimmed_text_through_the_sdk(
    stub: OpenAIStub, embedder: Embedder, calls: Calls
) -> None:
    vector = await embedder.embed("  I live in Austin \n")
    assert len(vector) == 1536
    assert cosine(vector, embed_text("I live in Austin")) > 0.999
    [request] = stub.requests("embed")
    assert request.body["input"] == "I live in Austin"
    assert request.body["model"] == "text-embedding-3-small"
    assert [(c[0], c[1], c[3]) for c in calls] == [("openai", "embed", "ok")]


async def test_empty_input_makes_no_call(stub: OpenAIStub, embedder: Embedder) -> None:
    assert await embedder.embed("   ") == []
    assert stub.requests() == []


async def test_without_a_key_every_call_is_empty_and_warns_once(
    stub: OpenAIStub, caplog: pytest.LogCaptureFixture
) -> None:
    embedder = Embedder.from_config(AIConfig(openai_api_key=" ", openai_base_url=stub.base_url))
    caplog.set_level(logging.WARNING, logger="kernel.ai.embeddings")
    assert not embedder.enabled
    assert await embedder.embed("hello") == []
    assert await embedder.embed("again") == []
    assert [r.getMessage() for r in caplog.records] == [NO_KEY_WARNING]
    assert NO_KEY_WARNING == (
        "[core] OPENAI_API_KEY not set; embedding-enabled routes will fall back to "
        "non-vector behavior."
    )
    assert stub.requests() == []


@pytest.mark.parametrize(
    ("script", "outcome"),
    [
        ({"status": 500}, "error"),
        ({"status": 429}, "error"),
        ({"raw": "{not json"}, "error"),
        ({"body": {"object": "list", "data": []}}, "error"),
        ({"body": {"object": "list", "data": [{"embedding": None}]}}, "ok"),
        ({"delay": 1.0}, "timeout"),
    ],
    ids=["500", "429", "garbage", "no-data", "null-embedding", "timeout"],
)
async def test_failures_give_an_empty_vector(
    stub: OpenAIStub, embedder: Embedder, calls: Calls, script: dict[str, Any], outcome: str
) -> None:
    stub.script("embed", **script)
    assert await embedder.embed("hello world") == []
    assert [c[3] for c in calls] == [outcome]


async def test_provider_down_gives_an_empty_vector() -> None:
    embedder = Embedder("key", base_url=dead_base_url())
    assert await embedder.embed("hello") == []
    await embedder.aclose()


async def test_float_encoding_is_served_too(stub: OpenAIStub) -> None:
    sdk = openai.AsyncOpenAI(api_key="k", base_url=stub.base_url, max_retries=0)
    result = await sdk.embeddings.create(model="m", input=["a b", "c"], encoding_format="float")
    await sdk.close()
    assert [len(d.embedding) for d in result.data] == [1536, 1536]
    assert result.data[0].embedding == pytest.approx(embed_text("a b"))


# --- the stub's documented similarity behaviour --------------------------------------

@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ("I live in Austin", "i live in austin!", 0.999, 1.001),
        ("I live in Austin", "I live in Austin Texas", 0.85, 1.0),
        ("My favorite color is blue", "My favorite color is green", 0.6, 0.85),
        ("I live in Austin", "I live in Paris", 0.6, 0.85),
        ("pizza", "sushi", -0.2, 0.2),
    ],
)
def test_stub_vectors_are_deterministic_and_similarity_aware(
    a: str, b: str, low: float, high: float
) -> None:
    assert embed_text(a) == embed_text(a)
    assert low <= cosine(embed_text(a), embed_text(b)) <= high
    assert math.isclose(math.sqrt(sum(v * v for v in embed_text(a))), 1.0)


# --- many texts: few requests, each with its own timeout ------------------------------

@pytest.fixture
async def patient(stub: OpenAIStub, calls: Calls) -> AsyncIterator[Embedder]:
    """Time enough for 100 texts at once on a busy machine; the stub's delay is longer."""
    client = Embedder("key", base_url=stub.base_url, timeout_s=2.0,
                      on_call=lambda *c: calls.append(c))
    yield client
    await client.aclose()


async def test_embed_many_sends_lists_of_at_most_100_texts(
    stub: OpenAIStub, patient: Embedder
) -> None:
    texts = [f"fact {i}" for i in range(250)]
    texts[7] = "   "
    vectors = await patient.embed_many(texts)
    sizes = sorted(len(r.body["input"]) for r in stub.requests("embed"))
    assert sizes == [49, 100, 100]
    assert vectors[7] == []
    assert all(cosine(v, embed_text(t)) > 0.999 for v, t in zip(vectors, texts, strict=True)
               if t.strip())


async def test_a_slow_request_costs_only_its_own_texts(
    stub: OpenAIStub, patient: Embedder, calls: Calls
) -> None:
    stub.script("embed", delay=3.0)  # the first request to arrive times out (2 s)
    vectors = await patient.embed_many([f"fact {i}" for i in range(250)])
    missing = [i for i, v in enumerate(vectors) if not v]
    assert len(missing) in (50, 100)
    assert missing == list(range(missing[0], missing[0] + len(missing)))
    assert sorted(c[3] for c in calls) == ["ok", "ok", "timeout"]


async def test_embed_many_without_text_or_key_makes_no_call(stub: OpenAIStub) -> None:
    keyless = Embedder(" ", base_url=stub.base_url)
    assert await keyless.embed_many(["a", "b"]) == [[], []]
    assert await Embedder("k", base_url=stub.base_url).embed_many(["", " "]) == [[], []]
    assert stub.requests() == []
