"""Debian Chromium's own EventSource reads the SSE route with a stream token (issue 17.5):
no headers, only `?access_token=`; after the API is killed and started again, the browser
reconnects by itself with `Last-Event-ID` and receives what was written meanwhile."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Page

from tests.support.system import System

pytestmark = pytest.mark.integration

LISTEN = """(token) => {
  window.seen = []; window.errors = 0;
  const es = new EventSource('/api/v1/events/memories?access_token=' + token);
  es.addEventListener('connected', (e) => window.seen.push(['connected', '', e.lastEventId]));
  es.addEventListener('memory.created',
    (e) => window.seen.push(['memory.created', JSON.parse(e.data).text, e.lastEventId]));
  es.onerror = () => { window.errors += 1; };
  window.stream = es;
}"""


async def write(client: httpx.AsyncClient, project: str, subject: str, text: str) -> None:
    response = await client.post("/api/v1/memories", headers={"x-project-id": project},
                                 json={"subject_id": subject, "text": text,
                                       "extract_claims": False})
    assert response.status_code == 201, response.text


async def texts(page: Page) -> list[str]:
    seen = await page.evaluate("() => window.seen")
    return [s[1] for s in seen if s[0] == "memory.created"]


async def test_eventsource_with_a_token_resumes_after_an_api_restart(
        core: System, page: Page) -> None:
    project = f"browser-{uuid.uuid4().hex[:8]}"
    async with core.client() as api:
        minted = await api.post("/api/v1/events/tokens", headers={"x-project-id": project},
                                json={"subject_id": "u1"})
    assert minted.status_code == 201, minted.text
    token = minted.json()["token"]
    await page.goto(f"{core.url}/health")
    await page.evaluate(LISTEN, token)
    await page.wait_for_function("() => window.seen.length > 0 && window.stream.readyState === 1")
    async with core.client() as api:
        await write(api, project, "u2", "someone else")
        await write(api, project, "u1", "before the restart")
    await page.wait_for_function(
        "() => window.seen.some(s => s[1] === 'before the restart')", timeout=30_000)

    core.kill_api()
    await page.wait_for_function("() => window.errors > 0", timeout=30_000)
    replica = core.start_replica()  # the writes meanwhile go through another API process
    try:
        async with replica.client() as other:
            await write(other, project, "u1", "while it was down")
    finally:
        replica.stop()
    core.start_api()
    await page.wait_for_function(
        "() => window.seen.some(s => s[1] === 'while it was down')", timeout=60_000)
    async with core.client() as api:
        await write(api, project, "u1", "after the restart")
    await page.wait_for_function(
        "() => window.seen.some(s => s[1] === 'after the restart')", timeout=30_000)
    assert await texts(page) == ["before the restart", "while it was down", "after the restart"]
    await page.evaluate("() => window.stream.close()")
