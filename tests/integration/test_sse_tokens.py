"""Stream tokens for browsers (issue 17.5): minted with a real credential, accepted only by
the SSE route as `?access_token=`, bound to project, subject and scopes, short-lived, never
logged. (The browser's own EventSource is driven in tests/e2e/test_sse_browser.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from core.auth.api_keys import create_key, revoke_key
from tests.support.sse_reader import EVENTS_PATH, EventReader
from tests.support.system import ARTIFACTS, System

pytestmark = pytest.mark.integration
TOKENS = "/api/v1/events/tokens"


def project() -> str:
    return f"tok-{uuid.uuid4().hex[:8]}"


async def mint(api: httpx.AsyncClient, project_id: str, **body: Any) -> dict[str, Any]:
    response = await api.post(TOKENS, headers={"x-project-id": project_id}, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def key_with(system: System, scopes: list[str], projects: list[str]) -> tuple[str, str]:
    conn = await asyncpg.connect(system.dsn)
    try:
        return await create_key(conn, name="t", projects=projects, scopes=scopes)
    finally:
        await conn.close()


async def test_a_token_opens_only_its_projects_subject_stream(system: System,
                                                              api: httpx.AsyncClient) -> None:
    p = project()
    body = await mint(api, p, subject_id="u1")
    token = body["token"]
    assert token.startswith("sse_") and body["expires_in"] == 900
    assert body["project_id"] == p and body["subject_id"] == "u1"
    assert body["scopes"] == ["events:read", "memories:read"]
    async with httpx.AsyncClient(base_url=system.url, timeout=None) as browser, \
            browser.stream("GET", EVENTS_PATH, params={"access_token": token}) as response:
        assert response.status_code == 200
        reader = EventReader(response)
        try:
            connected = await reader.event()
            assert connected.event == "connected"
            assert connected.data["project_id"] == p and connected.data["subject_id"] == "u1"
            other = await api.post("/api/v1/memories", headers={"x-project-id": p},
                                   json={"subject_id": "u2", "text": "not for u1"})
            mine = await api.post("/api/v1/memories", headers={"x-project-id": p},
                                  json={"subject_id": "u1", "text": "for u1"})
            assert other.status_code == mine.status_code == 201
            created = await reader.event()
            assert created.event == "memory.created" and created.data["text"] == "for u1"
        finally:
            await reader.close()
    log = (ARTIFACTS / "logs" / f"api-{system.name}.log").read_text()
    assert token not in log and token[4:] not in log
    metrics = (await api.get("/metrics")).text
    assert token[4:] not in metrics


async def test_the_token_is_refused_everywhere_else(system: System,
                                                    api: httpx.AsyncClient) -> None:
    p = project()
    token = (await mint(api, p))["token"]
    async with httpx.AsyncClient(base_url=system.url) as anonymous:
        elsewhere = await anonymous.get("/api/v1/memories",
                                        params={"subject_id": "u", "access_token": token})
        assert elsewhere.status_code == 401
        assert elsewhere.json()["error"] == "access_token_not_accepted"
        minting = await anonymous.post(TOKENS, params={"access_token": token}, json={})
        assert minting.status_code == 401
        bogus = await anonymous.get(EVENTS_PATH, params={"access_token": "sse_nope"})
        assert bogus.status_code == 401 and bogus.json()["error"] == "invalid_token"
        other_project = await anonymous.get(EVENTS_PATH, params={"access_token": token},
                                            headers={"x-project-id": project()})
        assert other_project.status_code == 403


async def test_subject_binding_expiry_and_revocation(system: System,
                                                     api: httpx.AsyncClient) -> None:
    p = project()
    bound = (await mint(api, p, subject_id="u1", ttl_s=60))["token"]
    key_id, key = await key_with(system, ["events:read", "memories:read"], [p])
    async with httpx.AsyncClient(base_url=system.url, headers={"x-api-key": key}) as own:
        revocable = (await mint(own, p))["token"]
    async with httpx.AsyncClient(base_url=system.url) as browser:
        mismatch = await browser.get(EVENTS_PATH, params={"access_token": bound,
                                                          "subject_id": "u2"})
        assert mismatch.status_code == 403
        assert mismatch.json()["error"] == "token_subject_mismatch"
        conn = await asyncpg.connect(system.dsn)
        try:
            await conn.execute("UPDATE stream_tokens SET expires_at = now() - interval '1 s' "
                               "WHERE project_id = $1 AND subject_id = 'u1'", p)
            await revoke_key(conn, key_id)
        finally:
            await conn.close()
        for token in (bound, revocable):
            refused = await browser.get(EVENTS_PATH, params={"access_token": token})
            assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


async def test_minting_needs_the_streams_scopes(system: System, api: httpx.AsyncClient) -> None:
    p = project()
    _, events_only = await key_with(system, ["events:read"], [p])
    async with httpx.AsyncClient(base_url=system.url, headers={"x-api-key": events_only,
                                                               "x-project-id": p}) as client:
        refused = await client.post(TOKENS, json={})
        assert refused.status_code == 403
        assert refused.json() == {"error": "insufficient_scope", "required_scope": "memories:read"}
    claims = await mint(api, p, include="claims")
    assert claims["scopes"] == ["events:read", "memories:read", "claims:read"]
    for bad, code in (({"ttl_s": 0}, "invalid_ttl_s"), ({"ttl_s": 10**6}, "invalid_ttl_s"),
                      ({"subject_id": 5}, "invalid_subject_id")):
        response = await api.post(TOKENS, headers={"x-project-id": p}, json=bad)
        assert response.status_code == 400 and response.json()["error"] == code
    async with httpx.AsyncClient(base_url=system.url) as browser:
        no_claims = (await mint(api, p))["token"]
        refused = await browser.get(EVENTS_PATH, params={"access_token": no_claims,
                                                         "include": "claims"})
        assert refused.status_code == 403
