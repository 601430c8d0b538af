"""Session-wide real infrastructure: one Postgres, one Kafka, one shared CORE system."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.openai_stub import OpenAIStub
from tests.support.system import Infra, System, start_system


@pytest.fixture(scope="module")
def stub() -> Iterator[OpenAIStub]:
    """The local OpenAI-compatible server (the only fake): one per test module."""
    with OpenAIStub() as started:
        yield started


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    started = Infra.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
async def system(infra: Infra) -> AsyncIterator[System]:
    started = await start_system(infra)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
async def api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client() as client:
        yield client
