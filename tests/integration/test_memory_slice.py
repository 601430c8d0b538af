"""The first vertical slice over HTTP: POST → event → projection → GET."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

pytestmark = pytest.mark.integration
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def project() -> dict[str, str]:
    return {"x-project-id": f"p-{uuid.uuid4().hex[:8]}"}


async def test_health_needs_no_project(api: httpx.AsyncClient) -> None:
    response = await api.get("/health", headers={"x-project-id": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["service"] == "mnexium-core"
    assert ISO_MS.match(body["timestamp"])


async def test_create_then_read_back(api: httpx.AsyncClient) -> None:
    headers = project()
    created = await api.post("/api/v1/memories", headers=headers,
                             json={"subject_id": "u1", "text": "  I live in Lisbon  ",
                                   "importance": 70.9, "tags": ["home", 3]})
    assert created.status_code == 201
    body = created.json()
    assert body["created"] is True and body["text"] == "I live in Lisbon"
    assert body["id"].startswith("mem_") and body["superseded_ids"] == []
    assert created.headers["content-type"] == "application/json; charset=utf-8"

    fetched = (await api.get(f"/api/v1/memories/{body['id']}", headers=headers)).json()["data"]
    assert fetched["importance"] == 70 and fetched["tags"] == ["home", "3"]
    assert fetched["kind"] == "fact" and fetched["confidence"] == 0.95
    assert fetched["project_id"] == headers["x-project-id"]
    assert "embedding" not in fetched and "is_deleted" not in fetched
    assert ISO_MS.match(fetched["created_at"]) and fetched["created_at"] == fetched["updated_at"]

    listed = (await api.get("/api/v1/memories", headers=headers,
                            params={"subject_id": "u1"})).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == body["id"]


async def test_other_project_cannot_see_it(api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/v1/memories", headers=project(),
                              json={"subject_id": "u1", "text": "secret"})).json()
    response = await api.get(f"/api/v1/memories/{created['id']}", headers=project())
    assert response.status_code == 404 and response.json() == {"error": "memory_not_found"}


async def test_default_project_when_header_blank(api: httpx.AsyncClient) -> None:
    subject = f"s-{uuid.uuid4().hex[:8]}"
    created = await api.post("/api/v1/memories", headers={"x-project-id": ""},
                             json={"subject_id": subject, "text": "blank header"})
    assert created.status_code == 201
    fetched = await api.get(f"/api/v1/memories/{created.json()['id']}")
    assert fetched.json()["data"]["project_id"] == "default-project"


@pytest.mark.parametrize(("body", "code"), [
    (b"{nope", "invalid_json_body"),
    (b"null", "invalid_json_body"),
    (b"0", "invalid_json_body"),
    (b"[]", "subject_id_required"),
    (b'{"text": "x"}', "subject_id_required"),
    (b'{"subject_id": "u"}', "text_required"),
    (b'{"subject_id": "u", "text": "   "}', "text_required"),
    (b'{"subject_id": "u", "text": "x", "kind": "opinion"}', "invalid_kind"),
    (b'{"subject_id": "u", "text": "x", "visibility": "world"}', "invalid_visibility"),
])
async def test_create_rejects_bad_input(api: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await api.post("/api/v1/memories", headers=project(), content=body)
    assert response.status_code == 400
    assert response.json()["error"] == code


async def test_text_too_long(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/memories", headers=project(),
                              json={"subject_id": "u", "text": "x" * 10_001})
    assert response.status_code == 400
    assert response.json() == {"error": "text_too_long", "max": 10000}


async def test_unknown_route_and_method(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/v1/memories")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "path": "/api/v1/memories", "method": "PUT"}


async def test_respond_async_then_status_url(api: httpx.AsyncClient, system) -> None:  # noqa: ANN001
    headers = {**project(), "Prefer": "respond-async"}
    accepted = await api.post("/api/v1/memories", headers=headers,
                              json={"subject_id": "u1", "text": "async write"})
    assert accepted.status_code == 202
    status_url = accepted.json()["status_url"]
    assert accepted.headers["location"] == status_url
    await system.wait_projected()
    final = await api.get(status_url, headers=headers)
    assert final.status_code == 201 and final.json()["created"] is True


async def test_exact_repost_without_embedder_is_duplicate(api: httpx.AsyncClient) -> None:
    headers = project()
    first = await api.post("/api/v1/memories", headers=headers,
                           json={"subject_id": "u1", "text": "I drink  coffee"})
    again = await api.post("/api/v1/memories", headers=headers,
                           json={"subject_id": "u1", "text": "i drink coffee "})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {"id": None, "subject_id": "u1", "text": "i drink coffee",
                            "kind": "fact", "created": False, "skipped": True,
                            "reason": "duplicate"}
