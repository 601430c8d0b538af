"""Which database a `core` command uses (issue 17.3): DATABASE_URL, else the reference's
POSTGRES_* variables (TCP or a socket directory), else a one-line `Missing env var`; the
choice is logged at start-up, and CORE_DEBUG changes what is logged."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.system import ARTIFACTS, REPO, Infra, System, free_port

pytestmark = pytest.mark.integration
DB_VARS = ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER",
           "POSTGRES_PASSWORD", "CORE_DEBUG")


def core(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in DB_VARS}
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO,
                          env={**clean, "CORE_HOME": str(tmp_path / "home"), **env},
                          capture_output=True, text=True, timeout=60)


def postgres_vars(infra: Infra, database: str = "postgres", *,
                  socket: bool = False) -> dict[str, str]:
    host = str(infra.home / "pg" / "sock") if socket else "127.0.0.1"
    return {"POSTGRES_HOST": host, "POSTGRES_PORT": str(infra.pg_port),
            "POSTGRES_DB": database, "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused"}


@pytest.mark.parametrize("command", [["migrate", "--status"], ["serve"], ["worker"]])
def test_neither_setting_stops_with_one_line(tmp_path: Path, command: list[str]) -> None:
    done = core(tmp_path, *command)
    assert done.returncode != 0
    assert done.stderr == "Missing env var: POSTGRES_HOST\n"


@pytest.mark.parametrize(("given", "missing"), [
    ({"POSTGRES_HOST": "db"}, "POSTGRES_DB"),
    ({"POSTGRES_HOST": "db", "POSTGRES_DB": "core"}, "POSTGRES_USER"),
    ({"POSTGRES_PORT": "5433", "POSTGRES_DB": "core", "POSTGRES_USER": "u"}, "POSTGRES_HOST"),
    ({"POSTGRES_HOST": "db", "POSTGRES_DB": "core", "POSTGRES_USER": "u"},
     "POSTGRES_PASSWORD"),
])
def test_incomplete_postgres_vars_name_the_first_missing(
        tmp_path: Path, given: dict[str, str], missing: str) -> None:
    done = core(tmp_path, "migrate", "--status", **given)
    assert done.returncode != 0 and done.stderr == f"Missing env var: {missing}\n"


@pytest.mark.parametrize("socket", [False, True])
def test_postgres_vars_connect_and_are_logged(tmp_path: Path, infra: Infra,
                                               socket: bool) -> None:
    # one-shot commands keep stderr quiet; CORE_DEBUG shows their start-up lines
    done = core(tmp_path, "migrate", "--status", CORE_DEBUG="1",
                **postgres_vars(infra, socket=socket))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(("applied", "pending"))
    where = f"socket {infra.home / 'pg' / 'sock'}" if socket else "127.0.0.1"
    assert f"database: {where}:{infra.pg_port}/postgres user=postgres (POSTGRES_*)" \
        in done.stderr
    assert "unused" not in done.stderr  # never the password


def test_database_url_wins_and_is_logged_without_password(tmp_path: Path, infra: Infra) -> None:
    url = f"postgresql://postgres:s3cret@127.0.0.1:{infra.pg_port}/postgres"
    done = core(tmp_path, "migrate", "--status", DATABASE_URL=url, POSTGRES_HOST="nowhere",
                CORE_DEBUG="1")
    assert done.returncode == 0, done.stderr
    assert f"database: 127.0.0.1:{infra.pg_port}/postgres user=postgres (DATABASE_URL)" \
        in done.stderr
    assert "s3cret" not in done.stderr


def test_core_debug_changes_what_is_logged(tmp_path: Path, infra: Infra) -> None:
    quiet = core(tmp_path, "migrate", "--status", **postgres_vars(infra))
    loud = core(tmp_path, "migrate", "--status", CORE_DEBUG="yes", **postgres_vars(infra))
    assert " DEBUG " not in quiet.stderr and "database:" not in quiet.stderr
    assert "debug: enabled" in loud.stderr
    assert " DEBUG core settings: " in loud.stderr


async def test_serve_and_worker_run_on_postgres_vars(infra: Infra) -> None:
    name = uuid.uuid4().hex[:10]
    system = System(infra, name, {"DATABASE_URL": "", "CORE_DEBUG": "on",
                                  **postgres_vars(infra, f"core_{name}", socket=True)})
    system.port = free_port()
    await system.prepare()
    system.start_worker()
    system.start_api()
    try:
        await system.warm_up()
        async with system.client() as api:
            created = await api.post("/api/v1/memories", json={"subject_id": "u", "text": "hi"})
            assert created.status_code == 201, created.text
            listed = await api.get("/api/v1/memories", params={"subject_id": "u"})
            assert [m["text"] for m in listed.json()["data"]] == ["hi"]
    finally:
        system.stop()
    logs = ARTIFACTS / "logs"
    worker = (logs / f"worker-{name}.log").read_text()
    api_log = (logs / f"api-{name}.log").read_text()
    for text in (worker, api_log):
        assert "database: socket " in text and "debug: enabled" in text
    assert "[DEBUG] batch of " in worker  # Faust formats the worker's log lines
