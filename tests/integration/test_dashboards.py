"""The Grafana dashboard and the Prometheus rules of compose/ query only metrics that a real
API's and a real worker's `/metrics` endpoints expose; the SSE drop counter counts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from core.auth.api_keys import create_key
from kernel.runtime.process import free_port
from tests.support.promql import (
    dashboard_expressions,
    exposed_families,
    raw_metrics,
    recorded_metrics,
    recorded_series,
    rule_expressions,
    with_suffixes,
)
from tests.support.system import REPO, Infra, System, start_system
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def observed(infra: Infra) -> AsyncIterator[System]:
    system = await start_system(infra, env={"CORE_WORKER_METRICS_PORT": str(free_port()),
                                            "CORE_SSE_RECHECK_MS": "300"})
    try:
        yield system
    finally:
        system.stop()


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
        assert response.status_code == 200, url
        return response.text


def worker_url(system: System) -> str:
    return f"http://127.0.0.1:{system.env()['CORE_WORKER_METRICS_PORT']}/metrics"


def sample_value(exposition: str, line_start: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_every_queried_metric_is_exposed(observed: System) -> None:
    api = await scrape(observed.url + "/metrics")
    worker = await wait_until(
        lambda: _with_samples(worker_url(observed), "core_projector_lag_events{",
                              "core_dlq_records{"),
        "the worker's sampler published lag and DLQ size", timeout=30)
    exposed = with_suffixes(exposed_families(api) | exposed_families(worker))
    queried = dashboard_expressions() + rule_expressions()
    assert raw_metrics(queried) <= exposed, raw_metrics(queried) - exposed
    assert recorded_metrics(dashboard_expressions()) <= recorded_series()
    assert "core_http_requests_total{" in api  # real samples, not only HELP lines
    assert "core_projector_events_total{" in worker


async def _with_samples(url: str, *prefixes: str) -> str | None:
    text = await scrape(url)
    return text if all(p in text for p in prefixes) else None


async def test_a_revoked_stream_counts_as_dropped(observed: System) -> None:
    def dropped(text: str) -> float:
        return sample_value(text, 'core_sse_dropped_total{reason="revoked"}') or 0.0

    before = dropped(await scrape(observed.url + "/metrics"))
    conn = await asyncpg.connect(observed.dsn)
    try:
        key_id, key = await create_key(conn, name="dropped", projects=["drops"],
                                       scopes=["memories:read", "events:read"])
    finally:
        await conn.close()
    lines: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        async def listen() -> None:
            async with client.stream("GET", observed.url + "/api/v1/events/memories",
                                     headers={"x-project-id": "drops", "x-api-key": key}) as s:
                async for line in s.aiter_lines():
                    lines.append(line)

        listener = asyncio.ensure_future(listen())
        await wait_until(lambda: "event: connected" in lines, "stream connected")
        revoked = subprocess.run([sys.executable, "-m", "core.cli", "keys", "revoke", key_id],
                                 cwd=REPO, env={**os.environ, **observed.env()},
                                 capture_output=True, text=True, timeout=60)
        assert revoked.returncode == 0, revoked.stderr
        await asyncio.wait_for(listener, 15)
    assert "event: revoked" in lines
    after = dropped(await scrape(observed.url + "/metrics"))
    assert after == before + 1
