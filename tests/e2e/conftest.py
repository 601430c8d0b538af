"""The console in a real browser: Debian's Chromium driven headless by Playwright (never a
downloaded browser), against a CORE system on the OpenAI stub (embeddings make supersession
and scored search real). Every page records its requests; none may leave the API's origin."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.support.openai_stub import OpenAIStub
from tests.support.system import ARTIFACTS, Infra, System, start_system

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
async def core(infra: Infra, stub: OpenAIStub) -> AsyncIterator[System]:
    started = await start_system(infra, env={"OPENAI_API_KEY": "sk-test",
                                             "OPENAI_BASE_URL": stub.base_url})
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make setup` installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    requested: list[str] = []
    opened.on("request", lambda request: requested.append(request.url))
    try:
        yield opened
    finally:
        await context.close()
    assert requested and requested[0].startswith("http://127.0.0.1:")
    origin = "/".join(requested[0].split("/")[:3]) + "/"
    outside = [url for url in requested if not url.startswith(origin)]
    assert not outside, f"requests beyond the API origin {origin}: {outside}"


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
