"""`core dev` keeps running: a SIGKILLed worker is restarted (one log line) and writes are
projected again."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

import tests.integration.test_dev_restart as dev
from tests.support.system import ARTIFACTS, free_port, free_port_pair

pytestmark = pytest.mark.integration
DEV_LOG = ARTIFACTS / "logs" / "core-dev.log"


def child_pids(parent: int, command: str) -> set[int]:
    """Pids of `parent`'s children whose argv contains `command`."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and command.encode() in argv:
            found.add(int(entry.name))
    return found


def wait_for_new_child(parent: int, command: str, old: set[int]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        new = child_pids(parent, command) - old
        if new:
            return new.pop()
        time.sleep(0.1)
    raise AssertionError(f"no new {command} under pid {parent} within 30 s")


def test_a_killed_worker_is_restarted_and_writes_complete_again() -> None:
    home = Path(tempfile.mkdtemp(prefix="core-dev-"))
    home.chmod(0o755)
    ports = {"api": free_port(), "pg": free_port(), "kafka": free_port_pair()}
    url = f"http://127.0.0.1:{ports['api']}"
    DEV_LOG.parent.mkdir(parents=True, exist_ok=True)
    log_start = DEV_LOG.stat().st_size if DEV_LOG.exists() else 0
    proc, _ = dev.start_dev(home / "data", ports)
    try:
        key = dev.dev_key(home / "data")
        worker = wait_for_new_child(proc.pid, "worker", set())
        os.kill(worker, signal.SIGKILL)
        restarted = wait_for_new_child(proc.pid, "worker", {worker})
        assert restarted != worker and proc.poll() is None
        dev.post_until_created(url, {"subject_id": "u", "text": "after a worker kill"}, key)
    finally:
        dev.stop_dev(proc, ports)
    with DEV_LOG.open("rb") as log:
        log.seek(log_start)
        assert b"[core] worker exited (-9); restarting in 0.5s" in log.read()
