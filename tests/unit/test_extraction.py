"""Extraction engines (§7.2–7.4, §8.1) with CORE's decisions Q9, Q16, Q17."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kernel.ai.extraction import (
    CLAIM_PATTERNS,
    ExtractedClaim,
    ExtractedMemory,
    ExtractionEngine,
    flatten_claims,
    heuristic_claims,
    infer_claim_type,
    llm_extract,
    normalize_llm_memories,
    normalize_predicate,
    simple_extract,
)
from kernel.ai.llm import LLMClient
from kernel.input_limits import MAX_ID_BYTES
from tests.support.openai_stub import OpenAIStub, dead_base_url

pytestmark = pytest.mark.unit


def claims_of(text: str, force: bool = False) -> list[tuple[str, str]]:
    [memory] = simple_extract(text, force)
    return [(c.predicate, c.object_value) for c in memory.claims]


# --- simple engine -------------------------------------------------------------------

def test_empty_text_yields_nothing() -> None:
    assert simple_extract("", force=True) == []
    assert simple_extract(" \n\t ", force=True) == []


def test_one_memory_with_collapsed_whitespace_and_note_defaults() -> None:
    [memory] = simple_extract("  Planning   a trip\n\nto   Japan  ", force=False)
    assert memory == ExtractedMemory(
        text="Planning a trip to Japan", kind="note", importance=50, confidence=0.6,
        is_temporal=False, visibility="private", tags=("simple_mode",), claims=(),
    )


def test_claims_make_a_fact_and_force_raises_importance() -> None:
    [memory] = simple_extract("My name is Bob.", force=True)
    assert (memory.kind, memory.importance, memory.confidence) == ("fact", 70, 0.75)
    assert memory.claims == (ExtractedClaim("name", "Bob", "fact", 0.9),)


def test_all_five_patterns_in_pattern_order() -> None:
    text = "I like tea. My favorite band is Queen. I work at Acme. I live in Oslo. My name is Kim."
    [memory] = simple_extract(text, force=False)
    assert memory.claims == (
        ExtractedClaim("name", "Kim", "fact", 0.9),
        ExtractedClaim("lives_in", "Oslo", "fact", 0.85),
        ExtractedClaim("works_at", "Acme", "fact", 0.85),
        ExtractedClaim("favorite_band", "Queen", "preference", 0.85),
        ExtractedClaim("likes", "tea", "preference", 0.7),
    )


def test_a_value_stops_at_a_clause_boundary_q16() -> None:
    assert claims_of("My favorite color is yellow and I live in Austin") == [
        ("lives_in", "Austin"), ("favorite_color", "yellow"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I live in Austin because I work there", [("lives_in", "Austin")]),
        ("I live in Austin because of work", [("lives_in", "Austin because of work")]),
        ("I live in Berlin; I work at SAP", [("lives_in", "Berlin"), ("works_at", "SAP")]),
        ("I work at Acme but I hate it", [("works_at", "Acme")]),
        ("I like hiking or biking", [("likes", "hiking or biking")]),
        ("I like pizza so much", [("likes", "pizza so much")]),
        ("I like Sandra a lot", [("likes", "Sandra a lot")]),
        ("I live in Orlando, Florida", [("lives_in", "Orlando")]),
        ("I like tea andrew", [("likes", "tea andrew")]),
    ],
)
def test_conjunctions_end_values_only_before_a_new_clause(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert claims_of(text) == expected


def test_favorite_x_is_non_greedy_and_each_occurrence_counts_q16() -> None:
    text = "My favorite food is pizza and my favorite drink is tea"
    assert claims_of(text) == [("favorite_food", "pizza"), ("favorite_drink", "tea")]


def test_favorite_predicate_is_normalised() -> None:
    assert claims_of("My favorite Ice  Cream is vanilla!") == [("favorite_ice_cream", "vanilla")]
    assert normalize_predicate("favorite_Ice Cream") == "favorite_ice_cream"
    assert normalize_predicate("  Ünïcode-Name!! ") == "ncodename"


def test_patterns_are_case_insensitive_substrings() -> None:
    assert claims_of("MY NAME IS Ann") == [("name", "Ann")]
    assert claims_of("Wiki like pages rock") == [("likes", "pages rock")]


@pytest.mark.parametrize("text", ["ok", "thanks!", "Thank you so much", "hey there", "No.", "yep"])
def test_short_greetings_without_facts_are_trivial(text: str) -> None:
    assert simple_extract(text, force=False) == []
    [forced] = simple_extract(text, force=True)
    assert (forced.kind, forced.importance) == ("note", 70)


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("Hi, I live in Paris", [("lives_in", "Paris")]),
        ("Hello, my name is Bob", [("name", "Bob")]),
    ],
)
def test_a_greeting_that_carries_a_fact_is_kept_q17(
    text: str, claims: list[tuple[str, str]]
) -> None:
    assert claims_of(text) == claims


@pytest.mark.parametrize(
    "text", ["nothing much going on", "hello " + "there " * 7, "Nicely done work today"]
)
def test_non_trivial_texts_are_kept(text: str) -> None:
    assert len(simple_extract(text, force=False)) == 1


def test_text_is_capped_at_2000_characters() -> None:
    [memory] = simple_extract("I like " + "x" * 3000, force=False)
    assert len(memory.text) == 2000
    assert len(memory.claims[0].object_value) == 3000


@given(st.text(max_size=300), st.booleans())
def test_simple_extract_never_fails_and_returns_at_most_one_memory(text: str, force: bool) -> None:
    memories = simple_extract(text, force)
    assert len(memories) <= 1
    for memory in memories:
        assert memory.text and len(memory.text) <= 2000
        assert all(c.predicate and c.object_value for c in memory.claims)


WORDS = ["my favorite", "My FAVORITE", "is", "my name is", "i like", "I live in", "i work at",
         "and", "so", "x", "Oslo", "ſ", "İs", "K", ".", ",", ";", "!", "my"]


@given(st.lists(st.sampled_from(WORDS), max_size=30), st.text(max_size=20))
@example(["my favorite", "x", ".", "my favorite", "x", "is", "tea"], "")
@example(["my favorite", "my favorite", "x", "is", "."], "")
def test_the_linear_search_finds_what_a_regex_search_finds(words: list[str], tail: str) -> None:
    text = " ".join(" ".join(words + [tail]).split())
    for pattern in CLAIM_PATTERNS:
        expected, found = pattern.regex.search(text), pattern.first_match(text)
        assert (found and (found.span(), found.groupdict())) == (
            expected and (expected.span(), expected.groupdict()))


ADVERSARIAL = ["my favorite ", "my favorite is ", "my favorite a is. ", "my favorite a b c ",
               "my name is, ", "i live in. ", "i work at ; ", "i like! ", "i like ",
               "i like a and ", "i like and ", "my favorite a is b and i ", "and i ",
               "i like a or. "]


@pytest.mark.parametrize("unit", ADVERSARIAL)
def test_a_megabyte_of_adversarial_text_is_extracted_in_linear_time(unit: str) -> None:
    text = unit * ((1 << 20) // len(unit))
    started = time.perf_counter()
    [memory] = simple_extract(text, force=True)
    assert time.perf_counter() - started < 5.0  # quadratic search took minutes here
    assert len(memory.text) == 2000


def test_a_predicate_over_the_identifier_limit_is_dropped() -> None:
    x = "a" * (MAX_ID_BYTES - len("favorite_"))
    assert heuristic_claims(f"My favorite {x} is tea") == (
        ExtractedClaim(f"favorite_{x}", "tea", "preference", 0.85),)
    assert heuristic_claims(f"My favorite {x}b is tea. I like it") == (
        ExtractedClaim("likes", "it", "preference", 0.7),)
    [memory] = normalize_llm_memories([{"text": "t", "claims": [
        {"predicate": "p" * (MAX_ID_BYTES + 1), "object_value": "v"},
        {"predicate": "ok\u0000", "object_value": "v\u0000w"}]}])
    assert memory.claims == (ExtractedClaim("ok", "vw"),)


def test_to_api_omits_absent_claim_fields() -> None:
    memory = ExtractedMemory(
        "t", "fact", 50, 0.8, False, "private", ("a",),
        (ExtractedClaim("p", "v"), ExtractedClaim("q", "w", "goal", 0.5)),
    )
    assert memory.to_api() == {
        "text": "t", "kind": "fact", "importance": 50, "confidence": 0.8, "is_temporal": False,
        "visibility": "private", "tags": ["a"],
        "claims": [
            {"predicate": "p", "object_value": "v"},
            {"predicate": "q", "object_value": "w", "claim_type": "goal", "confidence": 0.5},
        ],
    }


# --- LLM normalisation ---------------------------------------------------------------

def test_normalize_llm_memories_applies_every_rule() -> None:
    raw = {"memories": [
        "not an object",
        {"text": "   "},
        {"text": " Lives in Oslo ", "kind": " Preference ", "importance": 250, "confidence": -1,
         "is_temporal": " TRUE ", "visibility": "Shared", "tags": [" a ", "", 3, None],
         "claims": [
             {"predicate": " lives_in ", "object_value": " Oslo ", "claim_type": " ",
              "confidence": 7},
             {"predicate": "Age", "object_value": 41, "claim_type": "fact", "confidence": "x"},
             {"predicate": "", "object_value": "v"}, "junk",
         ]},
        {"text": "x", "kind": "mood", "importance": "n/a", "is_temporal": 1,
         "visibility": "secret", "tags": "a", "claims": {}},
    ]}
    assert normalize_llm_memories(raw) == [
        ExtractedMemory(
            "Lives in Oslo", "preference", 100, 0, True, "shared", ("a", "3"),
            (ExtractedClaim("lives_in", "Oslo", None, 1.0), ExtractedClaim("Age", "41", "fact")),
        ),
        ExtractedMemory("x", "fact", 50, 0.8, False, "private", (), ()),
    ]


def test_normalize_llm_memories_accepts_a_bare_list_and_rejects_the_rest() -> None:
    assert normalize_llm_memories([{"text": "a", "importance": 42.5}])[0].importance == 42.5
    assert normalize_llm_memories({"memories": "nope"}) == []
    assert normalize_llm_memories(None) == []


# --- LLM engine through the stub -----------------------------------------------------

@pytest.fixture(params=["openai", "cerebras"])
async def llm(request: pytest.FixtureRequest, stub: OpenAIStub) -> AsyncIterator[LLMClient]:
    client = LLMClient(request.param, "model-x", "key", stub.base_url)
    yield client
    await client.aclose()


ONE_MEMORY = {"memories": [{"text": "User lives in Oslo", "kind": "fact",
                            "claims": [{"predicate": "lives_in", "object_value": "Oslo"}]}]}


async def test_llm_extract_returns_normalised_memories_and_sends_the_prompt(
    stub: OpenAIStub, llm: LLMClient,
) -> None:
    stub.script("extract", ONE_MEMORY)
    found = await llm_extract(llm, "  I moved to Oslo  ", True, ["earlier", " "], subject_id="u1")
    assert found == [ExtractedMemory(
        "User lives in Oslo", "fact", 50, 0.8, False, "private", (),
        (ExtractedClaim("lives_in", "Oslo"),),
    )]
    [request] = stub.requests("extract")
    assert request.user_prompt == (
        "\nRecent conversation:\n1. earlier\nsubject_id=u1\nforce=true\ntext:\nI moved to Oslo"
    )


async def test_zero_memories_are_believed_q9(stub: OpenAIStub, llm: LLMClient) -> None:
    stub.script("extract", {"memories": []})
    assert await ExtractionEngine(llm).extract("I live in Paris and love it", force=True) == []


@pytest.mark.parametrize(
    "script",
    [
        {"status": 500}, {"raw": "not json"}, {"body": {"other": 1}},
        {"body": {"memories": [{"text": ""}, "x"]}}, {"body": {"n": 1}, "delay": 1.0},
    ],
    ids=["http-500", "garbage", "no-memories-key", "only-invalid-memories", "timeout"],
)
async def test_failed_or_unusable_replies_fall_back_to_the_heuristic(
    stub: OpenAIStub, llm: LLMClient, script: dict[str, Any],
) -> None:
    stub.script("extract", **script)
    engine = ExtractionEngine(llm, timeout_s=0.3)
    assert await llm_extract(llm, "I live in Paris", False, timeout_s=0.3) is None
    stub.script("extract", **script)
    [memory] = await engine.extract("I live in  Paris", force=False)
    assert memory.tags == ("simple_mode",)
    assert memory.claims == (ExtractedClaim("lives_in", "Paris", "fact", 0.85),)


async def test_provider_down_falls_back() -> None:
    client = LLMClient("openai", "gpt-4o-mini", "key", dead_base_url())
    [memory] = await ExtractionEngine(client).extract("My name is Eve", force=False)
    await client.aclose()
    assert memory.claims[0].object_value == "Eve"


async def test_empty_text_makes_no_call(stub: OpenAIStub, llm: LLMClient) -> None:
    assert await ExtractionEngine(llm).extract("   ", force=True) == []
    assert stub.requests() == []


def test_engine_names() -> None:
    client = LLMClient("cerebras", "gpt-oss-120b", "key", "http://127.0.0.1:9/v1")
    assert ExtractionEngine(client).name == "cerebras:gpt-oss-120b"
    assert ExtractionEngine().name == "simple"


async def test_simple_engine_uses_the_heuristic() -> None:
    assert await ExtractionEngine().extract("thanks", force=False) == []


# --- claims --------------------------------------------------------------------------

def _memory(*claims: ExtractedClaim) -> ExtractedMemory:
    return ExtractedMemory("t", "fact", 50, 0.8, False, "private", (), claims)


def test_flatten_claims_trims_drops_dedupes_and_caps() -> None:
    first = _memory(
        ExtractedClaim(" lives_in ", " Oslo ", "fact", 0.9), ExtractedClaim("x", "  "),
        ExtractedClaim("LIVES_IN", "oslo"),
    )
    second = _memory(*(ExtractedClaim(f"p{i}", "v") for i in range(30)))
    flat = flatten_claims([first, second])
    assert flat[0] == ExtractedClaim("lives_in", "Oslo", "fact", 0.9)
    assert len(flat) == 20
    assert [c.predicate for c in flat[1:3]] == ["p0", "p1"]
    assert len(flatten_claims([second], limit=5)) == 5


@pytest.mark.parametrize(
    ("predicate", "claim_type"),
    [
        ("favorite_color", "preference"), ("likes_jazz", "preference"),
        ("dislikes_rain", "preference"), ("career_goal", "goal"), ("wants_dog", "goal"),
        ("did_marathon", "event"), ("event_wedding", "event"), ("lives_in", "fact"),
        ("likes", "fact"), ("Favorite_color", "fact"), ("GOAL", "fact"),
    ],
)
def test_infer_claim_type(predicate: str, claim_type: str) -> None:
    assert infer_claim_type(predicate) == claim_type
