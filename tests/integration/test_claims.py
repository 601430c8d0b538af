"""Claims over HTTP: assert, retract, truth, slots, graph, history (spec §8 with §15)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from projections.replay import Replayer, StopRule, create_projection_schema
from tests.support.log_replay import replay_into_fresh_database, table_rows
from tests.support.sse_reader import open_stream
from tests.support.system import System

pytestmark = pytest.mark.integration
CLAIM_KEYS = ["claim_id", "project_id", "subject_id", "predicate", "object_value", "slot",
              "claim_type", "confidence", "importance", "tags", "source_memory_id",
              "source_observation_id", "subject_entity", "status", "asserted_at", "updated_at",
              "retracted_at", "retract_reason", "valid_from", "valid_until"]


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


async def assert_claim(api: httpx.AsyncClient, headers: dict[str, str],
                       **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/claims", headers=headers,
                              json={"subject_id": "u1", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get(api: httpx.AsyncClient, headers: dict[str, str], path: str,
              **params: Any) -> dict[str, Any]:
    response = await api.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def retract(api: httpx.AsyncClient, headers: dict[str, str], claim_id: str,
                  **body: Any) -> dict[str, Any]:
    response = await api.post(f"/api/v1/claims/{claim_id}/retract", headers=headers, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_assert_applies_the_defaults(api: httpx.AsyncClient) -> None:
    headers = project()
    body = await assert_claim(api, headers, predicate="favorite_color", object_value=" teal ")
    assert body["claim_id"].startswith("clm_")
    assert body == {"claim_id": body["claim_id"], "subject_id": "u1",
                    "predicate": "favorite_color", "object_value": "teal",
                    "slot": "favorite_color", "claim_type": "preference", "confidence": 0.8,
                    "observation_id": None, "linking_triggered": True}
    fetched = await get(api, headers, f"/api/v1/claims/{body['claim_id']}")
    claim = fetched["claim"]
    assert list(claim) == CLAIM_KEYS
    assert claim["importance"] == 0.5 and claim["subject_entity"] == "self"
    assert claim["status"] == "active" and claim["asserted_at"] == claim["updated_at"]
    [assertion] = fetched["assertions"]
    assert assertion["assertion_id"].startswith("ast_") and assertion["object_type"] == "string"
    assert assertion["value_string"] == "teal" and assertion["memory_id"] is None
    assert fetched["edges"] == [] and fetched["supersession_chain"] == []


async def test_assert_keeps_given_fields(api: httpx.AsyncClient) -> None:
    headers = project()
    claim_id = f"clm_custom_{uuid.uuid4().hex[:6]}"
    body = await assert_claim(
        api, headers, claim_id=claim_id, predicate="height", object_value=180, slot="body.height",
        claim_type="measurement", confidence="0.6", importance=3, tags=["a", 1],
        source_observation_id="obs_1", subject_entity="friend",
        valid_from="2025-01-02T03:04:05.678Z", valid_until="2026-01-01")
    assert body["claim_id"] == claim_id and body["object_value"] == "180"
    assert body["slot"] == "body.height" and body["claim_type"] == "measurement"
    assert body["confidence"] == 0.6 and body["observation_id"] == "obs_1"
    claim = (await get(api, headers, f"/api/v1/claims/{claim_id}"))["claim"]
    assert claim["importance"] == 1 and claim["tags"] == ["a", "1"]
    assert claim["subject_entity"] == "friend"
    assert claim["valid_from"] == "2025-01-02T03:04:05.678Z"
    assert claim["valid_until"] == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("body", "status", "code"), [
    (b"{nope", 400, "invalid_json_body"),
    (b"false", 400, "invalid_json_body"),
    (b"[1]", 400, "subject_id_required"),
    (b'{"predicate": "p", "object_value": "v"}', 400, "subject_id_required"),
    (b'{"subject_id": "u", "object_value": "v"}', 400, "predicate_required"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "  "}', 400,
     "object_value_required"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "v", "confidence": "high"}', 400,
     "invalid_confidence"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "v", "importance": {}}', 400,
     "invalid_importance"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "v", "valid_from": "soon"}', 400,
     "invalid_valid_from"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "v", "valid_until": 12}', 400,
     "invalid_valid_until"),
    (b'{"subject_id": "u", "predicate": "p", "object_value": "v", '
     b'"source_memory_id": "mem_missing"}', 400, "invalid_source_memory_id"),
])
async def test_assert_rejects_bad_input(api: httpx.AsyncClient, body: bytes, status: int,
                                        code: str) -> None:
    response = await api.post("/api/v1/claims", headers=project(), content=body)
    assert response.status_code == status
    assert response.json()["error"] == code


async def test_reused_claim_id_is_a_conflict_within_its_project(
        api: httpx.AsyncClient) -> None:
    headers, claim_id = project(), f"clm_dup_{uuid.uuid4().hex[:6]}"
    await assert_claim(api, headers, claim_id=claim_id, predicate="p", object_value="v")
    for subject in ("u1", "u2"):  # same subject: the projector; another: the reservation
        again = await api.post("/api/v1/claims", headers=headers, json={
            "subject_id": subject, "claim_id": claim_id, "predicate": "p", "object_value": "w"})
        assert again.status_code == 409 and again.json()["error"] == "claim_id_conflict"
    elsewhere = await api.post("/api/v1/claims", headers=project(), json={
        "subject_id": "u2", "claim_id": claim_id, "predicate": "p", "object_value": "w"})
    assert elsewhere.status_code == 201, "ids are unique per project, not across projects"


async def test_source_memory_links_the_claim(api: httpx.AsyncClient) -> None:
    headers = project()
    memory = (await api.post("/api/v1/memories", headers=headers, json={
        "subject_id": "u1", "text": "note without claims", "extract_claims": False})).json()
    other = (await api.post("/api/v1/memories", headers=project(), json={
        "subject_id": "u1", "text": "elsewhere", "extract_claims": False})).json()
    claim = await assert_claim(api, headers, predicate="lives_in", object_value="Oslo",
                               source_memory_id=memory["id"])
    truth = await get(api, headers, "/api/v1/claims/subject/u1/truth")
    [row] = truth["slots"]
    assert row["source"] == {"memory_id": memory["id"], "observation_id": None}
    assert row["source_memory_id"] == memory["id"] and row["active_claim_id"] == claim["claim_id"]
    linked = await get(api, headers, f"/api/v1/memories/{memory['id']}/claims")
    assert [(c["predicate"], c["value"]) for c in linked["data"]] == [("lives_in", "Oslo")]
    foreign = await api.post("/api/v1/claims", headers=headers, json={
        "subject_id": "u1", "predicate": "p", "object_value": "v",
        "source_memory_id": other["id"]})
    assert foreign.status_code == 400


async def test_slot_lifecycle_with_supersession_and_restore(api: httpx.AsyncClient) -> None:
    headers = project()
    a, b, c = [(await assert_claim(api, headers, predicate="city", object_value=v))["claim_id"]
               for v in ("Austin", "Boston", "Chicago")]
    await assert_claim(api, headers, predicate="name", object_value="Ada")

    slot = await get(api, headers, "/api/v1/claims/subject/u1/slot/city")
    assert slot["active_claim_id"] == c and slot["object_value"] == "Chicago"
    assert slot["tags"] == [] and slot["source"] == {"memory_id": None, "observation_id": None}

    middle = await get(api, headers, f"/api/v1/claims/{b}")
    assert middle["claim"]["status"] == "active"
    chain = [(e["from_claim_id"], e["to_claim_id"]) for e in middle["supersession_chain"]]
    assert chain == [(c, b), (b, a)]
    assert all(isinstance(e["edge_id"], int) for e in middle["edges"])

    slots = await get(api, headers, "/api/v1/claims/subject/u1/slots")
    assert [s["active_claim_id"] for s in slots["slots"]["active"]][1] == c
    superseded = {s["claim_id"]: s["superseded_by"] for s in slots["slots"]["superseded"]}
    assert superseded == {a: b, b: c}
    assert slots["active_count"] == 2 and slots["total"] == 2  # slot rows only (§8.6)

    history = await get(api, headers, "/api/v1/claims/subject/u1/history", slot="city")
    assert history["slot_filter"] == "city" and history["total_claims"] == 3
    assert [x["claim_id"] for x in history["by_slot"]["city"]] == [c, b, a]
    assert len(history["edges"]) == 2 and "embedding" not in history["by_slot"]["city"][0]

    assert await retract(api, headers, c) == {
        "success": True, "claim_id": c, "slot": "city", "previous_claim_id": b,
        "restored_previous": True, "reason": "manual_retraction"}
    assert (await get(api, headers, "/api/v1/claims/subject/u1/slot/city"))[
        "active_claim_id"] == b

    not_winner = await retract(api, headers, a, reason="wrong")
    assert not_winner["restored_previous"] is False and not_winner["previous_claim_id"] is None
    assert (await get(api, headers, "/api/v1/claims/subject/u1/slot/city"))[
        "active_claim_id"] == b

    last = await retract(api, headers, b)
    assert last["restored_previous"] is False
    gone = await api.get("/api/v1/claims/subject/u1/slot/city", headers=headers)
    assert gone.status_code == 404
    assert gone.json() == {"error": "slot_not_found", "subject_id": "u1", "slot": "city"}

    slots = await get(api, headers, "/api/v1/claims/subject/u1/slots")
    [other] = slots["slots"]["other"]
    assert other["status"] == "retracted" and other["active_claim_id"] is None
    assert other["predicate"] == "" and other["confidence"] == 0
    assert slots["slots"]["superseded"] == []

    graph = await get(api, headers, "/api/v1/claims/subject/u1/graph")
    assert graph["claims_count"] == 4
    assert graph["edges_by_type"] == {"retracts": 1, "supersedes": 2}
    assert all("embedding" not in claim for claim in graph["claims"])
    retracted = (await get(api, headers, f"/api/v1/claims/{a}"))["claim"]
    assert retracted["status"] == "retracted" and retracted["retract_reason"] == "wrong"


async def test_truth_lists_winners_newest_first(api: httpx.AsyncClient) -> None:
    headers = project()
    await assert_claim(api, headers, predicate="city", object_value="Austin", tags=["t"])
    name = await assert_claim(api, headers, predicate="name", object_value="Ada")
    truth = await get(api, headers, "/api/v1/claims/subject/u1/truth", include_source="false")
    assert truth["subject_id"] == "u1" and truth["project_id"] == headers["x-project-id"]
    assert truth["slot_count"] == 2
    first = truth["slots"][0]
    assert list(first) == ["slot", "active_claim_id", "predicate", "object_value", "claim_type",
                           "confidence", "tags", "updated_at"]
    assert first["active_claim_id"] == name["claim_id"]
    assert truth["slots"][1]["tags"] == ["t"]


async def test_unknown_claims_and_slots_are_404(api: httpx.AsyncClient) -> None:
    headers = project()
    for method, path in (("GET", "/api/v1/claims/clm_nope"), ("GET", "/api/v1/claims/subject"),
                         ("POST", "/api/v1/claims/clm_nope/retract")):
        response = await api.request(method, path, headers=headers)
        assert response.status_code == 404 and response.json() == {"error": "claim_not_found"}
    missing = await api.get("/api/v1/claims/subject/u1/slot/none", headers=headers)
    assert missing.json() == {"error": "slot_not_found", "subject_id": "u1", "slot": "none"}
    empty = await get(api, headers, "/api/v1/claims/subject/u1/graph")
    assert empty["claims"] == [] and empty["edges"] == [] and empty["edges_by_type"] == {}
    claim = await assert_claim(api, headers, predicate="p", object_value="v")
    elsewhere = await api.post(f"/api/v1/claims/{claim['claim_id']}/retract", headers=project())
    assert elsewhere.status_code == 404


async def test_retract_ignores_an_invalid_body(api: httpx.AsyncClient) -> None:
    headers = project()
    claim = await assert_claim(api, headers, predicate="p", object_value="v")
    response = await api.post(f"/api/v1/claims/{claim['claim_id']}/retract", headers=headers,
                              content=b"{not json")
    assert response.status_code == 200
    assert response.json()["reason"] == "manual_retraction"
    assert response.json()["previous_claim_id"] is None
    again = await retract(api, headers, claim["claim_id"], reason=42)
    assert again["reason"] == "42" and again["restored_previous"] is False


CLAIM_TABLES = {"claims": "claim_id", "claim_assertions": "assertion_id",
                "claim_edges": "edge_id", "slot_state": "subject_id, slot"}


async def test_replaying_the_log_rebuilds_identical_claim_tables(
        api: httpx.AsyncClient, system: System) -> None:
    headers = project()
    ids = [(await assert_claim(api, headers, predicate="city", object_value=v))["claim_id"]
           for v in ("Austin", "Boston", "Chicago")]
    await assert_claim(api, headers, subject_id="u2", predicate="city", object_value="Denver")
    await retract(api, headers, ids[2])
    await retract(api, headers, ids[0], reason="typo")
    await system.wait_projected()
    replay = await replay_into_fresh_database(system)
    for table, order in CLAIM_TABLES.items():
        live = await table_rows(system.dsn, table, headers["x-project-id"], order)
        assert live, table
        assert await table_rows(replay, table, headers["x-project-id"], order) == live, table


async def test_claim_changes_reach_clients_that_ask(api: httpx.AsyncClient,
                                                    system: System) -> None:
    headers = project()
    async with open_stream(system, headers["x-project-id"], include="claims") as stream:
        opened = await stream.frame()
        assert opened is not None and opened.event == "connected"
        first = await assert_claim(api, headers, predicate="city", object_value="Austin")
        second = await assert_claim(api, headers, predicate="city", object_value="Boston")
        await retract(api, headers, second["claim_id"], reason="moved back")
        frames = [(f.event, f.data) for f in await stream.events(6)]
    a, b = first["claim_id"], second["claim_id"]
    assert [event for event, _ in frames] == ["claim.asserted", "slot.changed"] * 2 + [
        "claim.retracted", "slot.changed"]
    assert frames[2][1]["claim_id"] == b and frames[2][1]["supersedes"] == a
    assert frames[3][1] == {"subject_id": "u1", "slot": "city", "active_claim_id": b,
                            "status": "active", "replaced_by_claim_id": None,
                            "updated_at": frames[2][1]["asserted_at"]}
    assert frames[4][1]["previous_claim_id"] == a and frames[4][1]["reason"] == "moved back"
    assert frames[5][1]["active_claim_id"] == a and frames[5][1]["replaced_by_claim_id"] == a


async def test_edge_ids_are_safe_json_integers_a_replay_reproduces(
        api: httpx.AsyncClient, system: System) -> None:
    """Issue 17.1: partition · 2^41 + a per-project counter, never above 2^53 - 1."""
    headers = project()
    subjects = [f"s{i}" for i in range(12)]  # spread over several partitions
    for subject in subjects:
        for value in ("Austin", "Boston", "Chicago"):
            await assert_claim(api, headers, subject_id=subject, predicate="city",
                               object_value=value)
    await system.wait_projected()
    conn = await asyncpg.connect(system.dsn)
    try:
        rows = await conn.fetch(
            "SELECT e.edge_id, e.subject_id, (SELECT max(topic_partition) FROM subject_events s "
            " WHERE s.project_id = e.project_id AND s.subject_id = e.subject_id) AS part "
            "FROM claim_edges e WHERE e.project_id = $1 ORDER BY e.edge_id",
            headers["x-project-id"])
    finally:
        await conn.close()
    ids = [r["edge_id"] for r in rows]
    assert len(ids) == 2 * len(subjects) and len(set(ids)) == len(ids)
    assert all(0 <= i < 2**53 for i in ids)
    assert {r["part"] for r in rows} != {0}  # some edges live outside partition 0
    by_partition: dict[int, list[int]] = {}
    for r in rows:
        assert r["edge_id"] >> 41 == r["part"]
        by_partition.setdefault(r["part"], []).append(r["edge_id"] & (2**41 - 1))
    assert all(n == list(range(len(n))) for n in by_partition.values())  # dense per project
    served = await get(api, headers, "/api/v1/claims/subject/s5/graph")
    assert {e["edge_id"] for e in served["edges"]} <= set(ids)
    replay = await replay_into_fresh_database(system)
    order = "project_id, edge_id"
    assert await table_rows(replay, "claim_edges", headers["x-project-id"], order) == \
        await table_rows(system.dsn, "claim_edges", headers["x-project-id"], order)


async def test_a_single_project_replay_reproduces_edge_ids(
        api: httpx.AsyncClient, system: System) -> None:
    """As-of replays fold one project only: the per-project counters give the same ids."""
    mine, other = project(), project()
    for headers in (other, mine, other, mine):
        await assert_claim(api, headers, predicate="city", object_value=uuid.uuid4().hex)
    await system.wait_projected()
    schema = f"edges_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(system.dsn)
    try:
        await create_projection_schema(conn, schema)
        await Replayer(system.settings(), schema, project=mine["x-project-id"]).run(StopRule())
        query = "SELECT edge_id, from_claim_id FROM {}.claim_edges WHERE project_id = $1 " \
                "ORDER BY edge_id"
        live = await conn.fetch(query.format("public"), mine["x-project-id"])
        replayed = await conn.fetch(query.format(schema), mine["x-project-id"])
    finally:
        await conn.close()
    assert len(live) == 1 and [tuple(r) for r in replayed] == [tuple(r) for r in live]
