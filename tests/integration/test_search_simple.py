"""GET /api/v1/memories/search on the shared system: no AI key, so the simple engine on
the lexical path (§6.1, §6.2 non-vector path, §6.3), and recall recording (§15 Q14)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.system import System

pytestmark = pytest.mark.integration
SEARCH = "/api/v1/memories/search"


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


async def create(api: httpx.AsyncClient, headers: dict[str, str], text: str,
                 importance: int = 50, subject: str = "u1") -> str:
    response = await api.post("/api/v1/memories", headers=headers, json={
        "subject_id": subject, "text": text, "importance": importance,
        "extract_claims": False})
    assert response.status_code == 201, response.text
    ident: str = response.json()["id"]
    return ident


async def search(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Any:
    response = await api.get(SEARCH, headers=headers, params={"subject_id": "u1", **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("params", "code"), [
    ({"q": "x"}, "subject_id_required"),
    ({}, "subject_id_required"),
    ({"subject_id": "   ", "q": "x"}, "subject_id_required"),
    ({"subject_id": "u1"}, "q_required"),
    ({"subject_id": "u1", "q": "  "}, "q_required"),
])
async def test_validation(api: httpx.AsyncClient, params: dict[str, str], code: str) -> None:
    response = await api.get(SEARCH, headers=project(), params=params)
    assert response.status_code == 400 and response.json() == {"error": code}


async def test_lexical_path_orders_by_importance_then_recency(api: httpx.AsyncClient) -> None:
    headers = project()
    low = await create(api, headers, "tea with lemon", importance=20)
    older = await create(api, headers, "green tea in the morning", importance=70)
    newer = await create(api, headers, "tea ceremony in Kyoto", importance=70)
    await create(api, headers, "coffee only", importance=99)
    body = await search(api, headers, q="tea", min_score="100")
    assert (body["engine"], body["mode"], body["used_queries"], body["predicates"]) == (
        "simple", "simple", ["tea"], [])
    assert [hit["id"] for hit in body["data"]] == [newer, older, low] and body["count"] == 3
    first = body["data"][0]
    assert first["score"] == 0 and first["effective_score"] == pytest.approx(17.5 + 14.25)
    assert first["kind"] == "fact" and first["is_temporal"] is False


async def test_tokens_drop_stop_words_and_match_substrings(api: httpx.AsyncClient) -> None:
    headers = project()
    colorful = await create(api, headers, "I like colorful things")
    party = await create(api, headers, "We had a party last night")
    cafeteria = await create(api, headers, "Lunch at the cafeteria")
    stop_words_only = await create(api, headers, "What is my name, you ask")
    await create(api, headers, "b c d e")
    ids = lambda body: {hit["id"] for hit in body["data"]}  # noqa: E731
    assert ids(await search(api, headers, q="What is my favorite color?")) == {colorful}
    assert ids(await search(api, headers, q="a b c art")) == {party}
    assert ids(await search(api, headers, q="café")) == {cafeteria}
    # no token left: only the whole query can match
    assert ids(await search(api, headers, q="WHAT IS MY")) == {stop_words_only}


async def test_limit_defaults_and_clamps(api: httpx.AsyncClient) -> None:
    headers = project()
    for n in range(27):
        await create(api, headers, f"note number {n}", importance=n)
    assert (await search(api, headers, q="note"))["count"] == 25
    assert (await search(api, headers, q="note", limit="0"))["count"] == 1
    assert (await search(api, headers, q="note", limit="2.7"))["count"] == 2
    assert (await search(api, headers, q="note", limit="abc"))["count"] == 25
    top = await search(api, headers, q="note", limit="500")
    assert top["count"] == 27 and top["data"][0]["text"] == "note number 26"


async def test_search_with_chat_id_records_the_recalls(api: httpx.AsyncClient,
                                                       system: System) -> None:
    headers = project()
    chat = f"chat-{uuid.uuid4().hex[:6]}"
    first = await create(api, headers, "I play the violin", importance=80)
    second = await create(api, headers, "violin lessons on Monday", importance=60)
    await search(api, headers, q="violin")  # no chat_id: nothing recorded
    found = await search(api, headers, q="violin", chat_id=chat, message_index="3",
                         model="gpt-x")
    assert [hit["id"] for hit in found["data"]] == [first, second]
    await system.wait_projected()
    response = await api.get("/api/v1/memories/recalls", headers=headers,
                             params={"chat_id": chat})
    rows = response.json()["data"]
    assert sorted(row["memory_id"] for row in rows) == sorted([first, second])
    assert {(row["message_index"], row["model"], row["subject_id"]) for row in rows} == {
        (3, "gpt-x", "u1")}
    by_memory = await api.get("/api/v1/memories/recalls", headers=headers,
                              params={"memory_id": first, "stats": "true"})
    assert by_memory.json()["stats"]["total_recalls"] == 1


async def test_a_repeated_parameter_reads_its_first_value(api: httpx.AsyncClient) -> None:
    headers = project()
    tea = await create(api, headers, "jasmine tea")
    await create(api, headers, "espresso coffee")
    response = await api.get(SEARCH, headers=headers, params=[
        ("subject_id", "u1"), ("subject_id", "u2"), ("q", "tea"), ("q", "coffee"),
        ("limit", "5"), ("limit", "0")])
    body = response.json()
    assert body["query"] == "tea" and [hit["id"] for hit in body["data"]] == [tea]
