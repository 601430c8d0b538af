"""The console at /console, driven in headless Chromium against a live CORE system: every view
on real data, writes through the command API, the live stream (with resume), time travel
through a server replay, and no request beyond the API's origin (checked by the `page`
fixture). Screenshots of each view land in test-artifacts/screenshots/."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import screenshot_path
from tests.support.poison import produce_poison
from tests.support.system import System

pytestmark = pytest.mark.integration
BLUE, GREEN = "My favorite color is blue", "My favorite color is green"


def new_project() -> str:
    return f"console-{uuid.uuid4().hex[:8]}"


async def write(system: System, project: str, path: str, body: dict[str, Any]) -> Any:
    async with system.client(headers={"x-project-id": project,
                                      "Idempotency-Key": uuid.uuid4().hex}) as api:
        response = await api.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def memory(system: System, project: str, subject: str, text: str) -> str:
    created = await write(system, project, "/api/v1/memories",
                          {"subject_id": subject, "text": text, "extract_claims": False})
    return str(created["id"])


async def claim(system: System, project: str, subject: str, value: str) -> str:
    body = {"subject_id": subject, "predicate": "favorite_food", "object_value": value}
    return str((await write(system, project, "/api/v1/claims", body))["claim_id"])


async def open_console(page: Page, system: System, project: str, subject: str,
                       view: str) -> None:
    await page.goto(f"{system.url}/console#{view}")
    await page.get_by_label("API key").fill(system.api_key)
    await page.get_by_label("Project", exact=True).fill(project)
    await page.get_by_role("button", name="Use", exact=True).click()
    await page.get_by_label("Subject", exact=True).fill(subject)
    await page.get_by_role("button", name="Open subject").click()


def memory_row(page: Page, memory_id: str, panel: str = "#view-memories") -> Any:
    return page.locator(f'{panel} tr[data-memory-id="{memory_id}"]')


async def test_memories_view_shows_supersession_restore_and_delete(page: Page,
                                                                   core: System) -> None:
    project, subject = new_project(), "ada"
    blue = await memory(core, project, subject, BLUE)
    green = await memory(core, project, subject, GREEN)
    await open_console(page, core, project, subject, "memories")
    await expect(memory_row(page, blue)).to_have_attribute("data-state", "superseded")
    await expect(memory_row(page, blue).locator(".link-superseded-by")).to_contain_text(green)
    await expect(memory_row(page, green).locator(".link-replaces")).to_contain_text(blue)
    await memory_row(page, blue).get_by_role("button", name=green).click()
    await expect(memory_row(page, green)).to_have_class("highlight")
    await expect(memory_row(page, green)).to_be_focused()
    await page.screenshot(path=screenshot_path("memories"), full_page=True)
    await memory_row(page, blue).get_by_role("button", name="Restore").click()
    await expect(memory_row(page, blue)).to_have_attribute("data-state", "active")
    delete = memory_row(page, green).get_by_role("button",
                                                 name=re.compile(f"Delete memory {green}"))
    await delete.click()
    await delete.click()
    await expect(memory_row(page, green)).to_have_count(0)
    await page.get_by_label("Deleted").check()
    await expect(memory_row(page, green)).to_have_attribute("data-state", "deleted")
    await expect(page.locator("#memory-summary")).to_have_text(
        "1 active · 0 superseded · 1 deleted")
    events = await timeline(core, project, subject)
    written_by_page = [e for e in events if e["type"] in ("memory.restored", "memory.deleted")]
    assert len(written_by_page) == 2 and all(e["idempotency_key"] for e in written_by_page)


async def timeline(system: System, project: str, subject: str) -> list[dict[str, Any]]:
    async with system.client(headers={"x-project-id": project}) as api:
        response = await api.get(f"/api/v1/subjects/{subject}/timeline")
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_live_view_renders_events_as_they_arrive_and_resumes(page: Page,
                                                                   core: System) -> None:
    project, subject = new_project(), "grace"
    await open_console(page, core, project, subject, "live")
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "open")
    await expect(page.locator("#live-position")).to_contain_text("Position:")
    blue = await memory(core, project, subject, BLUE)
    created = page.locator(f'#live-log li[data-event-type="memory.created"][data-id="{blue}"]')
    await expect(created).to_contain_text(BLUE)
    await page.get_by_role("button", name="Pause").click()
    await expect(page.locator("#live-state")).to_have_attribute("data-state", "stopped")
    green = await memory(core, project, subject, GREEN)
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator(f'#live-log li[data-id="{green}"]')).to_contain_text(GREEN)
    superseded = page.locator(f'#live-log li[data-event-type="memory.superseded"]'
                              f'[data-id="{blue}"]')
    await expect(superseded).to_contain_text(f"superseded by {green}")
    await expect(page.locator('#live-log li[data-event-type^="memory."]')).to_have_count(3)
    await expect(page.locator('#live-log li[data-event-type="connected"]')).to_have_count(2)
    await claim(core, project, subject, "ramen")
    await expect(page.locator('#live-log li[data-event-type="claim.asserted"]')).to_have_count(1)
    await page.screenshot(path=screenshot_path("live"), full_page=True)


async def test_live_view_reconnects_by_itself_without_gaps(page: Page, core: System) -> None:
    """The API process behind the page dies and comes back on the same port; what was written
    meanwhile (through another API process) arrives after the automatic reconnect."""
    project, subject = new_project(), "barbara"
    replica = core.start_replica()
    try:
        await open_console(page, replica, project, subject, "live")
        state = page.locator("#live-state")
        await expect(state).to_have_attribute("data-state", "open")
        await expect(page.locator("#live-position")).to_contain_text("Position:")
        replica.kill_api()
        await expect(state).to_have_attribute("data-state", "reconnecting")
        blue = await memory(core, project, subject, BLUE)
        replica.start_api(log_name=f"api-{replica.name}-{replica.port}-restarted")
        await expect(page.locator(f'#live-log li[data-id="{blue}"]')).to_contain_text(
            BLUE, timeout=30_000)
        await expect(state).to_contain_text("resumed after")
        created = page.locator('#live-log li[data-event-type="memory.created"]')
        await expect(created).to_have_count(1)
    finally:
        replica.stop()


async def test_truth_view_retract_brings_back_the_prior_winner(page: Page,
                                                               core: System) -> None:
    project, subject = new_project(), "alan"
    pizza = await claim(core, project, subject, "pizza")
    sushi = await claim(core, project, subject, "sushi")
    await open_console(page, core, project, subject, "truth")
    winner = page.locator('#truth-winners tr[data-slot="favorite_food"]')
    await expect(winner).to_have_attribute("data-claim-id", sushi)
    await winner.get_by_role("button", name="History").click()
    history = page.locator("#slot-history li")
    await expect(history).to_have_count(3)
    await expect(page.locator('#slot-history li[data-kind="superseded"]')).to_contain_text(
        "sushi superseded pizza")
    retract = winner.get_by_role("button", name=re.compile(f"Retract claim {sushi}"))
    await retract.click()
    await retract.click()
    await expect(winner).to_have_attribute("data-claim-id", pizza)
    await expect(winner.locator(".winner-value")).to_have_text("pizza")
    await expect(page.locator('#slot-history li[data-kind="retracted"]')).to_contain_text(
        "sushi retracted (manual_retraction)")
    await expect(page.locator('#slot-history li[data-kind="restored"]')).to_contain_text(
        "pizza is the winner again")
    await page.screenshot(path=screenshot_path("truth"), full_page=True)


async def test_time_slider_shows_the_state_before_a_change(page: Page, core: System) -> None:
    project, subject = new_project(), "edsger"
    blue = await memory(core, project, subject, BLUE)
    await claim(core, project, subject, "pizza")
    green = await memory(core, project, subject, GREEN)
    await claim(core, project, subject, "sushi")
    await open_console(page, core, project, subject, "history")
    rows = page.locator("#timeline tbody tr")
    await expect(rows).to_have_count(4)
    await expect(rows.first).to_have_attribute("data-event-type", "memory.submitted")
    await expect(rows.first.locator("td").nth(3)).not_to_have_text("—")
    slider = page.get_by_label("As of event")
    await slider.focus()
    await slider.press("ArrowLeft")
    await expect(page.locator("#asof-caption")).to_have_attribute("data-n", "3")
    asof = page.locator("#asof-state")
    await expect(asof.locator(f'tr[data-memory-id="{blue}"]')).to_have_attribute(
        "data-state", "superseded")
    await expect(asof.locator('tr[data-slot="favorite_food"] .winner-value')).to_have_text(
        "pizza")
    await slider.press("ArrowLeft")
    await expect(page.locator("#asof-caption")).to_have_attribute("data-n", "2")
    await expect(asof.locator(f'tr[data-memory-id="{blue}"]')).to_have_attribute(
        "data-state", "active")
    await expect(asof.locator(f'tr[data-memory-id="{green}"]')).to_have_count(0)
    await page.screenshot(path=screenshot_path("history"), full_page=True)
    await slider.press("ArrowLeft")
    await expect(page.locator("#asof-caption")).to_have_attribute("data-n", "1")
    await expect(asof.locator('tr[data-slot="favorite_food"]')).to_have_count(0)


async def test_search_playground_shows_engine_and_scores(page: Page, core: System) -> None:
    project, subject = new_project(), "barbara"
    await memory(core, project, subject, BLUE)
    await memory(core, project, subject, "I live in Austin Texas near the river")
    await open_console(page, core, project, subject, "search")
    await page.get_by_label("Query").fill("favorite color")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator('#search-about dd[data-fact="engine"]')).not_to_be_empty()
    await expect(page.locator('#search-about dd[data-fact="mode"]')).not_to_be_empty()
    await expect(page.locator('#search-about dd[data-fact="used-queries"] li')).not_to_have_count(0)
    first = page.locator("#search-results tbody tr").first
    await expect(first).to_contain_text(BLUE)
    assert float(await first.locator(".score").inner_text()) > 0
    await page.screenshot(path=screenshot_path("search"), full_page=True)


async def test_health_view_reads_ready_and_metrics(page: Page, core: System) -> None:
    await produce_poison(core)  # one dead letter the view must count
    await open_console(page, core, new_project(), "health-check", "health")
    await expect(page.locator('[data-metric="ready"] dd')).to_have_text("ready")
    await expect(page.locator('[data-metric="lag"] dd')).to_have_text("0")
    await expect(page.locator('[data-metric="dlq"] dd')).to_have_text("1", timeout=15_000)
    await expect(page.locator('[data-metric="sse"] dd')).to_have_text(re.compile(r"^\d+$"))
    await expect(page.locator('[data-metric="rps"] dd')).to_have_text(
        re.compile(r"^\d+\.\d\d$"), timeout=15_000)
    await expect(page.locator("#health-checks tbody tr")).to_have_count(4)
    await page.screenshot(path=screenshot_path("health"), full_page=True)


async def test_tabs_follow_the_keyboard_and_calls_need_the_key(page: Page, core: System) -> None:
    await page.goto(f"{core.url}/console")
    await expect(page.locator("#status")).to_contain_text("Paste an API key")
    await page.get_by_label("Subject", exact=True).fill("nobody")
    await page.get_by_role("button", name="Open subject").click()
    await expect(page.locator("#status")).to_contain_text("Not authorised")
    await page.get_by_role("tab", name="Memories").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="Truth")).to_be_focused()
    await expect(page.get_by_role("tab", name="Truth")).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#view-truth")).to_be_visible()
    await expect(page.locator("#view-memories")).to_be_hidden()
    await page.keyboard.press("End")
    await expect(page.get_by_role("tab", name="Health")).to_have_attribute("aria-selected", "true")


async def test_console_assets_are_public_and_confined(core: System) -> None:
    async with httpx.AsyncClient(base_url=core.url) as anonymous:
        page = await anonymous.get("/console")
        script = await anonymous.get("/console/app.js")
        missing = await anonymous.get("/console/nothing.js")
        api = await anonymous.get("/api/v1/memories", params={"subject_id": "x"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    assert script.headers["content-type"].startswith("text/javascript")
    assert missing.status_code == 404 and api.status_code == 401
