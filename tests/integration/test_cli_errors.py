"""A `core` command whose dependency is missing or misconfigured prints one line saying what
it tried and what to do, exits non-zero, and never shows a Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from kernel.runtime.process import free_port
from tests.support.system import REPO, Infra, System

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def ready(infra: Infra) -> AsyncIterator[System]:
    """A migrated database with topics, and nothing running."""
    system = System(infra, uuid.uuid4().hex[:10])
    system.port = free_port()
    await system.prepare()
    yield system


@pytest.fixture(scope="module")
async def unmigrated(infra: Infra) -> AsyncIterator[str]:
    name = f"core_empty_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield infra.dsn(name)


def one_line_failure(system: System, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO,
                          env={**os.environ, **system.env(), **env}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"core {args[0]}"), lines[0]
    return lines[0]


def nothing_listens() -> str:
    return f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/core"


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"], ["keys", "list"],
                                     ["replay", "--schema", "x"]])
def test_no_database(ready: System, command: list[str]) -> None:
    dsn = nothing_listens()
    line = one_line_failure(ready, *command, DATABASE_URL=dsn)
    port = dsn.rsplit(":", 1)[1].split("/")[0]
    assert f"cannot connect to Postgres at postgres@127.0.0.1:{port}/core" in line
    assert "connection refused" in line and "DATABASE_URL" in line
    assert "s3cret-pw" not in line


def test_database_does_not_exist(ready: System, infra: Infra) -> None:
    line = one_line_failure(ready, "migrate", DATABASE_URL=infra.dsn("no_such_db"))
    assert "no_such_db" in line and "does not exist" in line and "createdb" in line


def test_wrong_port_pointing_at_kafka(ready: System, infra: Infra) -> None:
    wrong = f"postgresql://postgres@127.0.0.1:{infra.kafka_port}/core"
    line = one_line_failure(ready, "keys", "list", DATABASE_URL=wrong)
    assert f"127.0.0.1:{infra.kafka_port}" in line and "DATABASE_URL" in line


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["topics", "--wait", "1"],
                                     ["events", "export"]])
def test_kafka_down(ready: System, command: list[str]) -> None:
    down = f"127.0.0.1:{free_port()}"
    line = one_line_failure(ready, *command, KAFKA_BOOTSTRAP_SERVERS=down)
    assert f"cannot reach Kafka at {down}" in line and "KAFKA_BOOTSTRAP_SERVERS" in line


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_missing_topic(ready: System, command: str) -> None:
    line = one_line_failure(ready, command, CORE_TOPIC_PREFIX="nosuchprefix")
    assert "nosuchprefix.events" in line and "core topics" in line


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_pending_migrations(ready: System, unmigrated: str, command: str) -> None:
    line = one_line_failure(ready, command, DATABASE_URL=unmigrated)
    assert "refusing to start" in line and "pending" in line and "core migrate" in line


def test_invalid_setting(ready: System) -> None:
    line = one_line_failure(ready, "keys", "list", CORE_PARTITIONS="many")
    assert "invalid settings" in line and "CORE_PARTITIONS" in line
