"""Long commands (events export, replay, projections rebuild, backup, restore) report one
JSON summary line when not on a terminal, and draw a live progress bar (events/s, ETA) on
one: a pseudo-terminal from the `pty` module here."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kernel.kafka import end_offsets
from tests.support.system import REPO, Infra, System, start_system

pytestmark = pytest.mark.integration
WRITES = 40


@pytest.fixture(scope="module")
async def loaded(infra: Infra) -> AsyncIterator[System]:
    system = await start_system(infra)
    try:
        async with system.client(headers={"x-project-id": "progress",
                                          "Prefer": "respond-async"}) as client:
            for n in range(WRITES):
                response = await client.post("/api/v1/memories", json={
                    "subject_id": f"s{n % 7}", "text": f"fact number {n} about the world"})
                assert response.status_code == 202, response.text
        await system.wait_projected()
        yield system
    finally:
        system.stop()


def core(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=REPO,
                          env={**os.environ, **system.env()}, capture_output=True, text=True,
                          timeout=300)


def summary_line(output: str) -> dict[str, Any]:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    parsed: dict[str, Any] = json.loads(lines[0])
    return parsed


async def log_size(system: System) -> int:
    settings = system.settings()
    return sum((await end_offsets(settings, settings.events_topic)).values())


async def test_export_prints_one_json_summary(loaded: System, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    done = core(loaded, "events", "export", "--project", "progress", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = summary_line(done.stdout)
    assert summary["command"] == "events export" and summary["events"] == WRITES
    assert len(out.read_text().splitlines()) == WRITES
    assert done.stderr == ""
    to_stdout = core(loaded, "events", "export", "--project", "progress")
    assert len(to_stdout.stdout.splitlines()) == WRITES  # the data alone on stdout
    assert summary_line(to_stdout.stderr)["events"] == WRITES


async def test_replay_prints_one_json_summary(loaded: System) -> None:
    schema = f"replay_{uuid.uuid4().hex[:8]}"
    done = core(loaded, "replay", "--schema", schema)
    assert done.returncode == 0, done.stderr
    summary = summary_line(done.stdout)
    assert summary["schema"] == schema and summary["events"] == await log_size(loaded)
    assert summary["events_per_second"] > 0 and "events/s" in summary["message"]


async def test_rebuild_prints_one_json_summary(loaded: System) -> None:
    schema = f"proj_{uuid.uuid4().hex[:8]}"
    done = core(loaded, "projections", "rebuild", "--schema", schema)
    assert done.returncode == 0, done.stderr
    summary = summary_line(done.stdout)
    assert summary["switched"] is True and summary["differences"] == []
    assert summary["schema"] == schema and summary["events"] >= WRITES


async def test_backup_and_restore_print_one_json_summary(loaded: System, tmp_path: Path) -> None:
    backup = core(loaded, "backup", "--out", str(tmp_path / "b"))
    assert backup.returncode == 0, backup.stderr
    written = summary_line(backup.stdout)
    assert written["command"] == "backup" and written["records"] == await log_size(loaded)
    loaded.stop()
    await loaded.recreate_database()
    restored = core(loaded, "restore", "--from", str(tmp_path / "b"))
    assert restored.returncode == 0, restored.stderr
    summary = summary_line(restored.stdout)
    assert summary["command"] == "restore"
    assert any("within the log" in step for step in summary["steps"])


def run_on_terminal(system: System, *args: str) -> tuple[int, str, str]:
    """Runs a command with stderr on a pseudo-terminal; returns (code, terminal, stdout)."""
    master, slave = pty.openpty()
    env = {**os.environ, **system.env(), "TERM": "xterm-256color", "COLUMNS": "150"}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    screen = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                screen += chunk
            elif proc.poll() is not None:
                break
        stdout = proc.stdout.read() if proc.stdout else ""
        return proc.wait(timeout=120), screen.decode(errors="replace"), stdout
    finally:
        os.close(master)


async def test_replay_on_a_terminal_draws_progress(loaded: System) -> None:
    schema = f"tty_{uuid.uuid4().hex[:8]}"
    code, screen, stdout = run_on_terminal(loaded, "replay", "--schema", schema)
    assert code == 0, screen
    assert f"replay → {schema}" in screen and "events/s" in screen and "eta" in screen
    assert "━" in screen  # the bar
    total = await log_size(loaded)
    assert f"{total}/{total}" in screen
    assert stdout.startswith("replayed ") and not stdout.startswith("{")


async def test_json_flag_keeps_a_terminal_quiet(loaded: System) -> None:
    code, screen, stdout = run_on_terminal(loaded, "replay", "--json", "--schema",
                                           f"quiet_{uuid.uuid4().hex[:8]}")
    assert code == 0, screen
    assert "events/s" not in screen and "━" not in screen
    assert summary_line(stdout)["events"] == await log_size(loaded)
