"""End to end: after its Postgres is killed and restarted, a CORE system (API and worker
untouched) answers a waiting write with 201 from the outcome, not from the deadline read."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.own_postgres import OwnPostgres
from tests.support.system import Infra, start_system

pytestmark = pytest.mark.integration


async def outcome_paths(client: httpx.AsyncClient) -> dict[str, float]:
    text = (await client.get("/metrics")).text
    return {sample.labels["path"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "core_command_outcome_paths"
            for sample in family.samples if sample.name.endswith("_total")}


async def test_a_write_after_a_postgres_restart_answers_201(infra: Infra) -> None:
    pg = await asyncio.to_thread(OwnPostgres.start)
    own = Infra(pg.home, pg.port, infra.kafka_port)  # this test's Postgres, the session's Kafka
    system = await start_system(own, env={"CORE_COMMAND_TIMEOUT_MS": "30000"})
    try:
        pg.kill()
        await asyncio.to_thread(pg.restart)
        async with system.client() as client:
            before = await outcome_paths(client)
            response = await client.post(
                "/api/v1/memories", headers={"x-project-id": f"pg-restart-{uuid.uuid4().hex[:6]}"},
                json={"subject_id": "s1", "text": "written after Postgres came back"})
            after = await outcome_paths(client)
        assert response.status_code == 201, response.text
        assert after.get("deadline", 0) == before.get("deadline", 0)
        assert sum(after.values()) == sum(before.values()) + 1
    finally:
        system.stop()
        pg.stop()
