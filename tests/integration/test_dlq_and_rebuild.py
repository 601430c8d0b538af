"""Poison events are parked in the DLQ with a reason while the projector keeps going;
operators list and re-drive them. A rebuild under live traffic switches without a loss."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import asyncpg
import pytest

from kernel.kafka import new_producer, subject_key
from tests.support.system import Infra, System, start_system

pytestmark = pytest.mark.integration


def cli(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli", *args],
                          env={**os.environ, **system.env()}, capture_output=True, text=True,
                          timeout=300)


async def produce_raw(system: System, value: bytes) -> None:
    producer = new_producer(system.settings())
    await producer.start()
    try:
        await producer.send_and_wait(system.settings().events_topic, value,
                                     key=subject_key("dlq", "s"))
    finally:
        await producer.stop()


async def test_poison_events_go_to_the_dlq_and_can_be_redriven(infra: Infra) -> None:
    system = await start_system(infra)
    try:
        unknown = (b'{"event_id":"0192a000-0000-7000-8000-0000000000aa","type":"memory.teleported",'
                   b'"v":1,"project_id":"dlq","subject_id":"s","occurred_at":'
                   b'"2026-11-27T10:00:00.000Z","actor":"t","payload":{}}')
        await produce_raw(system, b"{garbage")
        await produce_raw(system, unknown)
        async with system.client() as client:
            after = await client.post("/api/v1/memories", headers={"x-project-id": "dlq"},
                                      json={"subject_id": "s", "text": "still flowing"})
        assert after.status_code == 201, "the projector did not stop at the poison events"
        listed = cli(system, "dlq", "list")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.strip().splitlines()
        assert len(lines) == 2
        assert any("not JSON" in line for line in lines)
        assert any("unknown event type 'memory.teleported'" in line for line in lines)
        first = lines[0].split()[0]
        redriven = cli(system, "dlq", "retry", "--offset", first)
        assert redriven.returncode == 0 and "re-drove 1" in redriven.stdout
        await system.wait_projected()
        for _ in range(50):
            relisted = cli(system, "dlq", "list").stdout.strip().splitlines()
            if len(relisted) == 3:
                break
            await asyncio.sleep(0.2)
        assert len(relisted) == 3, "the re-driven event failed again and was parked again"
    finally:
        system.stop()


async def test_rebuild_switches_the_live_projection_under_traffic(infra: Infra) -> None:
    system = await start_system(infra)
    try:
        project = f"rb-{uuid.uuid4().hex[:6]}"
        headers = {"x-project-id": project}
        async with system.client() as client:
            for i in range(30):
                await client.post("/api/v1/memories", headers=headers,
                                  json={"subject_id": f"s{i % 3}", "text": f"before {i}"})

            async def traffic() -> int:
                written = 0
                for i in range(60):
                    response = await client.post("/api/v1/memories", headers=headers,
                                                 json={"subject_id": f"s{i % 3}",
                                                       "text": f"during {i}"})
                    assert response.status_code in (201, 202)
                    written += 1
                    await asyncio.sleep(0.02)
                return written

            writing = asyncio.ensure_future(traffic())
            rebuilt = await asyncio.to_thread(cli, system, "projections", "rebuild", "--schema",
                                              "proj_rebuilt")
            written = await writing
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert "switched the live projection" in rebuilt.stdout
            after = await client.post("/api/v1/memories", headers=headers,
                                      json={"subject_id": "s0", "text": "after the switch"})
            assert after.status_code == 201
            await system.wait_projected()
            listed = (await client.get("/api/v1/memories", headers=headers,
                                       params={"subject_id": "s0", "limit": 200})).json()
        assert written == 60
        assert "after the switch" in [m["text"] for m in listed["data"]]
        conn = await asyncpg.connect(system.dsn)
        try:
            live = await conn.fetchval("SELECT schema_name FROM projection_pointer")
            count = await conn.fetchval(
                "SELECT count(*) FROM proj_rebuilt.memories WHERE project_id = $1", project)
        finally:
            await conn.close()
        assert live == "proj_rebuilt" and count == 91
        dropped = cli(system, "projections", "drop", "proj_rebuilt")
        assert dropped.returncode == 1, "the live schema must not be dropped"
    finally:
        system.stop()
