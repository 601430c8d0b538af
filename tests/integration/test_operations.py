"""Operations over real HTTP, Kafka and Postgres: `/metrics` of the API and of the worker,
`/ready`, request ids and JSON request/batch logs, dead-letter counting, ANALYZE after a
large ingest. One system of its own: its worker serves metrics and checks growth every second.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.readiness import Readiness, ready_body
from kernel.db import create_pool
from kernel.kafka import new_producer
from kernel.telemetry.kafka import LogEnds
from tests.support.sse_reader import open_stream
from tests.support.system import ARTIFACTS, Infra, System, free_port, start_system

pytestmark = pytest.mark.integration
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
async def ops(infra: Infra) -> AsyncIterator[System]:
    started = await start_system(infra, env={"CORE_WORKER_METRICS_PORT": str(free_port()),
                                             "CORE_ANALYZE_CHECK_S": "1"})
    try:
        yield started
    finally:
        started.stop()


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def api_metrics(system: System) -> Samples:
    async with httpx.AsyncClient(base_url=system.url) as anonymous:
        response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def worker_metrics(system: System) -> Samples:
    port = system.env()["CORE_WORKER_METRICS_PORT"]
    async with httpx.AsyncClient() as client:
        return parse((await client.get(f"http://127.0.0.1:{port}/metrics")).text)


async def eventually(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


def json_lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_bytes().splitlines():
        if line.startswith(b"{"):
            found.append(orjson.loads(line))
    return found


async def remember(system: System, project: str, text: str) -> str:
    async with system.client() as client:
        response = await client.post("/api/v1/memories", headers={"x-project-id": project},
                                     json={"subject_id": "u1", "text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_request_metrics_use_route_templates(ops: System) -> None:
    project = f"ops-{uuid.uuid4().hex[:8]}"
    memory_id = await remember(ops, project, "metrics are labelled by template")
    async with ops.client() as client:
        assert (await client.get(f"/api/v1/memories/{memory_id}",
                                 headers={"x-project-id": project})).status_code == 200
        assert (await client.get("/no/such/route")).status_code == 404
    samples = await api_metrics(ops)
    by_id = {"route": "/api/v1/memories/{id}", "method": "GET", "status": "200"}
    assert value(samples, "core_http_requests_total", **by_id) >= 1
    assert value(samples, "core_http_request_duration_seconds_count", **by_id) >= 1
    assert value(samples, "core_http_requests_total", route="unmatched", method="GET",
                 status="404") >= 1
    assert not any(memory_id in dict(labels).get("route", "") for _, labels in samples)
    assert value(samples, "core_kafka_produce_duration_seconds_count", outcome="ok") >= 1
    assert value(samples, "core_db_query_duration_seconds_count", verb="select") >= 1
    assert value(samples, "core_db_pool_max", pool="api") == 10
    assert ("core_db_pool_in_use", frozenset({("pool", "api")})) in samples
    assert ("core_db_pool_waiting", frozenset({("pool", "api")})) in samples


async def test_sse_subscribers_gauge(ops: System) -> None:
    async with open_stream(ops, f"ops-{uuid.uuid4().hex[:8]}") as reader:
        assert (await reader.frame()).event == "connected"  # type: ignore[union-attr]
        assert value(await api_metrics(ops), "core_sse_subscribers") == 1

    async def closed() -> bool:
        return value(await api_metrics(ops), "core_sse_subscribers") == 0

    assert await eventually(closed, timeout=10)


async def test_request_id_echoed_and_logged_as_json(ops: System) -> None:
    project = f"ops-{uuid.uuid4().hex[:8]}"
    secret_text = f"my secret memory {uuid.uuid4().hex}"
    async with ops.client() as client:
        mine = await client.post("/api/v1/memories", json={"subject_id": "u", "text": secret_text},
                                 headers={"x-project-id": project, "x-request-id": "req-42.a"})
        generated = await client.get("/api/v1/memories", headers={"x-project-id": project})
        odd = await client.get("/health", headers={"x-request-id": "bad id\twith spaces"})
    assert mine.status_code == 201 and mine.headers["x-request-id"] == "req-42.a"
    assert len(generated.headers["x-request-id"]) == 32
    assert odd.headers["x-request-id"] != "bad id\twith spaces"
    log = ARTIFACTS / "logs" / f"api-{ops.name}.log"

    async def logged() -> dict[str, Any] | None:
        lines = [e for e in json_lines(log) if e.get("request_id") == "req-42.a"]
        return lines[0] if lines else None

    line = await eventually(logged, timeout=10)
    assert line is not None
    assert {k: line[k] for k in ("msg", "project", "route", "method", "status")} == {
        "msg": "request", "project": project, "route": "/api/v1/memories", "method": "POST",
        "status": 201}
    assert line["duration_ms"] > 0 and line["level"] == "info"
    text = log.read_text()
    assert secret_text not in text and ops.api_key not in text


async def test_ready_checks_dependencies(ops: System) -> None:
    async with httpx.AsyncClient(base_url=ops.url) as anonymous:
        response = await anonymous.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"postgres", "kafka", "projector", "relay"}
    assert body["checks"]["projector"]["max_lag"] == 10000
    assert body["checks"]["kafka"]["partitions"] == 4


async def test_not_ready_when_projector_lags(ops: System) -> None:
    lagging = ops.start_replica({"CORE_WORKER_GROUP": "nobody-applies", "CORE_READY_MAX_LAG": "0"})
    try:
        async with httpx.AsyncClient(base_url=lagging.url) as anonymous:
            response = await anonymous.get("/ready")
        body = response.json()
        assert response.status_code == 503
        assert body["ready"] is False and body["failing"] == ["projector"]
        assert body["checks"]["projector"]["lag"] > 0
        assert body["checks"]["postgres"]["ok"] and body["checks"]["kafka"]["ok"]
    finally:
        lagging.stop()


async def test_worker_metrics_and_batch_log(ops: System) -> None:
    await remember(ops, f"ops-{uuid.uuid4().hex[:8]}", "the worker reports")
    await ops.wait_projected()

    async def sampled() -> Samples | None:
        samples = await worker_metrics(ops)
        lag = [v for (name, _), v in samples.items() if name == "core_projector_lag_events"]
        return samples if len(lag) == 4 and sum(lag) == 0 else None

    samples = await eventually(sampled)
    assert samples is not None, "lag gauges per partition never reached 0"
    assert value(samples, "core_projector_events_total", result="applied") >= 2
    assert value(samples, "core_command_to_projection_seconds_count",
                 type="memory.submitted") >= 2
    assert ("core_outbox_backlog", frozenset()) in samples
    assert value(samples, "core_db_pool_max", pool="projector") == 6
    batches = [e for e in json_lines(ARTIFACTS / "logs" / f"worker-{ops.name}.log")
               if e.get("msg") == "batch"]
    assert batches and set(batches[-1]) >= {"applied", "skipped", "changes", "dlq",
                                             "duration_ms", "partitions"}


async def test_dead_letters_are_counted(ops: System) -> None:
    before = value(await worker_metrics(ops), "core_dead_letters_total")
    producer = new_producer(ops.settings())
    await producer.start()
    try:
        await producer.send_and_wait(ops.settings().events_topic, b"not an event", key=b"x")
    finally:
        await producer.stop()
    await ops.wait_projected()
    after = value(await worker_metrics(ops), "core_dead_letters_total")
    assert after == before + 1
    batches = [e for e in json_lines(ARTIFACTS / "logs" / f"worker-{ops.name}.log")
               if e.get("msg") == "batch" and e.get("dlq")]
    assert batches and batches[-1]["dlq"] == 1


async def test_analyze_after_large_ingest(ops: System) -> None:
    # autovacuum's own analyze would make this race: the projector must be the one to do it
    conn = await asyncpg.connect(ops.dsn)
    await conn.execute("ALTER TABLE memories SET (autovacuum_enabled = false)")
    await conn.close()
    project = f"ops-{uuid.uuid4().hex[:8]}"
    async with ops.client() as client:
        for chunk in range(6):
            await asyncio.gather(*[
                client.post("/api/v1/memories", json={"subject_id": f"s{chunk}-{i}",
                                                      "text": f"bulk {chunk} {i}"},
                            headers={"x-project-id": project, "Prefer": "respond-async"})
                for i in range(30)])
    await ops.wait_projected()
    conn = await asyncpg.connect(ops.dsn)
    try:
        async def analyzed() -> bool:
            return bool(await conn.fetchval(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = 'memories' AND schemaname = 'public'"))

        assert await eventually(analyzed, timeout=45), "memories was never analyzed"
    finally:
        await conn.close()
    runs = [e for e in json_lines(ARTIFACTS / "logs" / f"worker-{ops.name}.log")
            if e.get("msg") == "analyze"]
    assert any(r["table"] == '"public"."memories"' for r in runs)


async def test_ready_names_unreachable_dependencies(ops: System) -> None:
    pool = await create_pool(ops.dsn, max_size=1)
    dead_kafka = LogEnds(f"127.0.0.1:{free_port()}", ops.settings().events_topic)
    readiness = Readiness(pool, dead_kafka, "g", 10, timeout_s=2)
    status, body = ready_body(*await readiness.check())
    assert status == 503 and body["failing"] == ["kafka", "projector"]
    assert body["checks"]["postgres"] == {"ok": True}
    assert "error" in body["checks"]["kafka"]
    await pool.close()
    status, body = ready_body(*await readiness.check())
    assert body["failing"] == ["postgres", "kafka", "projector", "relay"]
