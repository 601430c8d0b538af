"""Search with the simple engine and embeddings (§6.2 vector path, §6.3), on a CORE API
whose embedder is the OpenAI stub. Memories are written straight into the projection with
vectors of known similarity to the query's stub embedding, so every score is exact."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kernel.db import connect
from tests.support.openai_stub import OpenAIStub, embed_text
from tests.support.system import Infra, System, free_port

pytestmark = pytest.mark.integration
SEARCH = "/api/v1/memories/search"
Q = "hiking boots"
ORIGIN = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seed:
    text: str
    importance: int = 50
    confidence: float = 0.95
    similarity: float | None = None  # to the query's embedding; None = no embedding
    status: str = "active"
    deleted: bool = False
    vector: list[float] | None = None  # an explicit embedding instead of `similarity`


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


def near(query: str, similarity: float, axis: int = 7) -> list[float]:
    """A unit vector whose cosine similarity to embed_text(query) is `similarity`."""
    q = embed_text(query)
    other = [-q[axis] * v for v in q]
    other[axis] += 1.0
    norm = math.sqrt(sum(v * v for v in other))
    side = math.sqrt(max(0.0, 1 - similarity**2))
    return [similarity * a + side * b / norm for a, b in zip(q, other, strict=True)]


async def seed(system: System, headers: dict[str, str], subject: str, query: str,
               seeds: Sequence[Seed]) -> list[str]:
    """Insert memories (oldest first, one second apart); returns their ids."""
    ids = [f"mem_{uuid.uuid4()}" for _ in seeds]
    conn = await connect(system.dsn)
    try:
        await conn.executemany(
            "INSERT INTO memories (id, project_id, subject_id, text, importance, confidence, "
            "embedding, status, is_deleted, created_at, updated_at, last_reinforced_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10)",
            [(ident, headers["x-project-id"], subject, s.text, s.importance, s.confidence,
              s.vector or (None if s.similarity is None else near(query, s.similarity, 7 + i)),
              s.status, s.deleted, ORIGIN + timedelta(seconds=i))
             for i, (ident, s) in enumerate(zip(ids, seeds, strict=True))])
    finally:
        await conn.close()
    return ids


async def search(api: httpx.AsyncClient, headers: dict[str, str], q: str = Q,
                 subject: str = "u1", **params: Any) -> dict[str, Any]:
    response = await api.get(SEARCH, headers=headers, params={"subject_id": subject, "q": q,
                                                              **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def start_api_only(infra: Infra, env: dict[str, str]) -> System:
    """A CORE deployment with only its API process: search reads, it never writes."""
    system = System(infra, uuid.uuid4().hex[:10], env, port=free_port())
    await system.prepare()
    system.start_api()
    return system


@pytest.fixture(scope="module")
async def embedded(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_api_only(infra, {"CORE_AI_MODE": "simple", "OPENAI_API_KEY": "test",
                                           "OPENAI_BASE_URL": stub.base_url})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def api(embedded: System) -> AsyncIterator[httpx.AsyncClient]:
    async with embedded.client() as client:
        yield client


async def test_scores_follow_the_formula(api: httpx.AsyncClient, embedded: System) -> None:
    headers = project()
    ids = await seed(embedded, headers, "u1", Q, [
        Seed("my trail shoes", importance=80, confidence=0.5, similarity=0.9),
        Seed("new hiking boots from the shop", importance=20, similarity=0.5),
        Seed("boots for winter", importance=40, confidence=1.0, similarity=0.2),
        Seed("hiking boots without a vector", importance=60),
    ])
    body = await search(api, headers)
    assert (body["engine"], body["mode"], body["query"]) == ("simple", "simple", Q)
    assert (body["used_queries"], body["predicates"]) == ([Q], [])
    hits = {hit["id"]: hit for hit in body["data"]}
    assert body["count"] == 4 and set(hits) == set(ids)
    expected = {  # 0.60·score + 0.25·importance + 15·confidence + bonus (20 whole q, 16 token)
        ids[0]: (90.0, 54 + 20 + 7.5), ids[1]: (50.0, 30 + 5 + 14.25 + 20),
        ids[2]: (20.0, 12 + 10 + 15 + 16), ids[3]: (0.0, 15 + 14.25 + 20),
    }
    for ident, (score, effective) in expected.items():
        assert hits[ident]["score"] == pytest.approx(score, abs=1e-3)
        assert hits[ident]["effective_score"] == pytest.approx(effective, abs=1e-3)
    assert [hit["id"] for hit in body["data"]] == [ids[0], ids[1], ids[2], ids[3]]
    assert set(body["data"][0]) == {"id", "text", "kind", "importance", "is_temporal",
                                    "created_at", "score", "effective_score"}
    assert body["data"][0]["created_at"] == "2025-03-01T10:00:00.000Z"


async def test_min_score_filters_only_vector_only_hits(api: httpx.AsyncClient,
                                                       embedded: System) -> None:
    headers = project()
    ids = await seed(embedded, headers, "u1", Q, [
        Seed("a walk in the forest", similarity=0.45),
        Seed("a walk by the sea", similarity=0.25),
        Seed("old boots in the attic", similarity=0.05),
    ])
    default = await search(api, headers)  # min_score 30: the lexical hit stays at 5
    assert [hit["id"] for hit in default["data"]] == [ids[0], ids[2]]
    for params, expected in (({"min_score": "20"}, {ids[0], ids[1], ids[2]}),
                             ({"distance": "20"}, {ids[0], ids[1], ids[2]}),
                             ({"min_score": "50", "distance": "20"}, {ids[2]}),
                             ({"min_score": "abc"}, {ids[0], ids[2]}),
                             ({"min_score": ""}, {ids[0], ids[1], ids[2]}),
                             ({"min_score": "250"}, {ids[2]})):
        found = await search(api, headers, **params)
        assert {hit["id"] for hit in found["data"]} == expected, params


async def test_ordering_ties_and_limit(api: httpx.AsyncClient, embedded: System) -> None:
    headers = project()
    ids = await seed(embedded, headers, "u1", Q, [
        Seed("first pair of hiking socks", importance=50, similarity=0.6),
        Seed("second pair of hiking socks", importance=50, similarity=0.6),
        Seed("hiking map", importance=90, similarity=0.6),
    ])
    body = await search(api, headers)
    assert [hit["id"] for hit in body["data"]][0] == ids[2]
    assert body["data"][1]["effective_score"] == pytest.approx(body["data"][2]["effective_score"])
    limited = await search(api, headers, limit="1")
    assert [hit["id"] for hit in limited["data"]] == [ids[2]] and limited["count"] == 1


async def test_candidates_are_active_live_memories_of_the_subject(
    api: httpx.AsyncClient, embedded: System
) -> None:
    headers = project()
    ids = await seed(embedded, headers, "u1", Q, [
        Seed("hiking boots I own", similarity=0.9),
        Seed("hiking boots I sold", similarity=0.9, status="superseded"),
        Seed("hiking boots I threw away", similarity=0.9, deleted=True),
    ])
    await seed(embedded, headers, "u2", Q, [Seed("hiking boots of u2", similarity=0.9)])
    await seed(embedded, project(), "u1", Q, [Seed("hiking boots elsewhere", similarity=0.9)])
    body = await search(api, headers)
    assert [hit["id"] for hit in body["data"]] == [ids[0]]


async def test_wildcards_in_the_query_are_literal(api: httpx.AsyncClient,
                                                  embedded: System) -> None:
    headers = project()
    ids = await seed(embedded, headers, "u1", "100%_sure", [
        Seed("I am 100%_sure about it", similarity=0.1),
        Seed("I am 100 percent sure", similarity=0.1),
        Seed("I am 100x sure", similarity=0.1),
    ])
    body = await search(api, headers, q="100%_sure")
    hits = {hit["id"]: hit for hit in body["data"]}
    # the whole query matches only the literal text (+20); the others match a token (+16)
    assert hits[ids[0]]["effective_score"] - hits[ids[1]]["effective_score"] == pytest.approx(4)
    assert hits[ids[1]]["effective_score"] == pytest.approx(hits[ids[2]]["effective_score"])
