"""The console's subject list, health charts and slot timeline in headless Chromium against a
live system: the list's order and prefix search, chart data points sampled from /metrics, the
drawn winners of a slot, keyboard focus that stays visible, and text contrast (WCAG AA, 4.5:1)
computed in the page. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import screenshot_path
from tests.e2e.test_console import claim, memory, new_project, open_console, write
from tests.support.system import System
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text()

FOCUS_JS = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return { id: el.id || el.textContent.trim().slice(0, 40), tag: el.tagName,
           outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
}
"""


def row_ids(page: Page) -> Any:
    return page.locator("#subject-list tbody tr[data-subject-id]")


async def test_subject_list_is_most_recent_first_and_searchable(page: Page,
                                                               core: System) -> None:
    project = new_project()
    await memory(core, project, "amy", "Amy reads maps")
    await memory(core, project, "zoe", "Zoe plays chess")
    await memory(core, project, "amelia", "Amelia flies planes")
    await claim(core, project, "zoe", "ramen")
    await open_console(page, core, project, "", "subjects")
    rows = row_ids(page)
    await expect(rows).to_have_count(3)
    assert [await r.get_attribute("data-subject-id") for r in await rows.all()] == [
        "zoe", "amelia", "amy"]
    zoe = page.locator('#subject-list tr[data-subject-id="zoe"]')
    await expect(zoe.locator('[data-count="memories"]')).to_have_text("1")
    await expect(zoe.locator('[data-count="claims"]')).to_have_text("1")
    await page.screenshot(path=screenshot_path("subjects"), full_page=True)
    await page.get_by_label("Subject id starts with").fill("am")
    await expect(rows).to_have_count(2)
    assert [await r.get_attribute("data-subject-id") for r in await rows.all()] == [
        "amelia", "amy"]
    await page.get_by_role("button", name="Show subject amy").click()
    await expect(page.get_by_role("tab", name="Memories")).to_have_attribute(
        "aria-selected", "true")
    await expect(page.locator("#subject-state")).to_have_text("open: amy")


async def test_health_charts_plot_points_sampled_from_metrics(page: Page,
                                                              core: System) -> None:
    project = new_project()
    await open_console(page, core, project, "charts", "health")
    points = page.locator("#chart-writes circle.point")

    async def writes_plotted() -> bool:
        await write(core, project, "/api/v1/memories",
                    {"subject_id": "charts", "text": f"sample {uuid.uuid4().hex}",
                     "extract_claims": False})
        values = [float(v) for v in await points.evaluate_all(
            "(els) => els.map((e) => e.dataset.value)")]
        return len(values) >= 3 and any(v > 0 for v in values)

    await wait_until(writes_plotted, "three write-rate points, one above zero", timeout=60)
    latency = await page.locator("#chart-latency circle.point").evaluate_all(
        "(els) => els.map((e) => Number(e.dataset.value))")
    assert latency and all(v > 0 for v in latency)
    lag_series = page.locator("#chart-lag g.series")
    assert await lag_series.count() >= 1
    lag = await page.locator("#chart-lag circle.point").evaluate_all(
        "(els) => els.map((e) => Number(e.dataset.value))")
    assert lag and all(v >= 0 for v in lag)
    label = await page.locator("#chart-writes").get_attribute("aria-label")
    assert label and label.startswith("Write rate: latest writes")
    await page.screenshot(path=screenshot_path("health-charts"), full_page=True)


async def test_slot_timeline_draws_who_won_when(page: Page, core: System) -> None:
    project, subject = new_project(), "ken"
    pizza = await claim(core, project, subject, "pizza")
    sushi = await claim(core, project, subject, "sushi")
    await write(core, project, f"/api/v1/claims/{sushi}/retract", {"reason": "changed"})
    await open_console(page, core, project, subject, "truth")
    winner = page.locator('#truth-winners tr[data-slot="favorite_food"]')
    await expect(winner).to_have_attribute("data-claim-id", pizza)
    await winner.get_by_role("button", name="History").click()
    chart = page.locator("#slot-timeline-chart")
    won = chart.locator('rect[data-kind="won"]')
    await expect(won).to_have_count(3)
    assert [await w.get_attribute("data-claim-id") for w in await won.all()] == [
        pizza, sushi, pizza]
    await expect(won.last).to_have_attribute("data-open", "true")
    for kind, count in (("asserted", 2), ("superseded", 1), ("retracted", 1), ("restored", 1)):
        await expect(chart.locator(f'g.mark[data-kind="{kind}"]')).to_have_count(count)
    await expect(chart.locator(f'g.mark[data-kind="retracted"][data-claim-id="{sushi}"]'))\
        .to_have_count(1)
    label = await chart.get_attribute("aria-label")
    assert label and "sushi won from" in label and "pizza won from" in label
    await page.screenshot(path=screenshot_path("slot-timeline"), full_page=True)


async def test_keyboard_focus_is_visible_and_text_is_readable(page: Page,
                                                              core: System) -> None:
    project = new_project()
    await memory(core, project, "kay", "Kay keeps notes")
    await claim(core, project, "kay", "soup")
    await open_console(page, core, project, "kay", "subjects")
    await expect(row_ids(page)).to_have_count(1)
    await page.reload()  # the key and project stay in the tab; focus starts at the top again
    await expect(row_ids(page)).to_have_count(1)
    visited: list[dict[str, Any]] = []
    for _ in range(11):
        await page.keyboard.press("Tab")
        visited.append(await page.evaluate(FOCUS_JS))
    ids = [v["id"] for v in visited]
    assert ids[0] == "Skip to the view", ids
    order = ["api-key", "project-id", "subject-id", "tab-subjects", "subject-prefix"]
    assert [ids.index(i) for i in order] == sorted(ids.index(i) for i in order), ids
    hidden = [v for v in visited if v["outline"] == "none" or v["width"] < 2]
    assert not hidden, f"focus without a visible outline: {hidden}"
    assert ids[-1] == "kay", ids  # the subject's open button, last on the way
    for view in ("subjects", "health", "truth"):
        await page.get_by_role("tab", name=view.capitalize()).click()
        await expect(page.locator(f"#view-{view}")).to_be_visible()
        if view == "health":
            await expect(page.locator("#chart-writes")).to_be_visible(timeout=15_000)
        if view == "truth":
            await expect(page.locator("#truth-winners tbody tr")).to_have_count(1)
        result = await page.evaluate(CONTRAST_JS)
        assert result["checked"] > 10, result
        assert not result["failures"], f"{view}: {result['failures']}"
