"""`core dev` end to end: first start, a write, a clean stop with no orphan, a restart that
keeps the data and takes new writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from kernel.runtime.process import port_open
from tests.support.system import ARTIFACTS, free_port, free_port_pair

pytestmark = pytest.mark.integration


def start_dev(home: Path, ports: dict[str, int]) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "CORE_HOME": str(home), "PORT": str(ports["api"]),
           "CORE_PG_PORT": str(ports["pg"]), "CORE_KAFKA_PORT": str(ports["kafka"]),
           "CORE_PARTITIONS": "3"}
    env.pop("DATABASE_URL", None)
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    log = (ARTIFACTS / "logs" / "core-dev.log").open("ab")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "dev"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = started + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "core dev exited early; see test-artifacts/logs/core-dev.log"
        try:
            if httpx.get(f"http://127.0.0.1:{ports['api']}/health", timeout=1).status_code == 200:
                return proc, time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("core dev did not serve /health within 120 s")


def stop_dev(proc: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0
    for port in ports.values():
        assert not port_open("127.0.0.1", port), f"something still listens on {port}"


def dev_key(home: Path) -> dict[str, str]:
    env = dict(line.split("=", 1) for line in (home / "runtime.env").read_text().splitlines())
    return {"x-api-key": env["CORE_API_KEY"]}


def post_until_created(url: str, body: dict[str, str], headers: dict[str, str]) -> str:
    """The worker may still be joining its group right after start: wait mode may give 202."""
    response = httpx.post(f"{url}/api/v1/memories", json=body, timeout=30, headers=headers)
    assert response.status_code in (201, 202)
    status_url = f"{url}/api/v1/commands/{response.json().get('event_id', '')}"
    deadline = time.monotonic() + 60
    while response.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.3)
        response = httpx.get(status_url, timeout=10, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_dev_survives_restart() -> None:
    home = Path(tempfile.mkdtemp(prefix="core-dev-"))
    home.chmod(0o755)
    ports = {"api": free_port(), "pg": free_port(), "kafka": free_port_pair()}
    url = f"http://127.0.0.1:{ports['api']}"
    proc, first_start = start_dev(home / "data", ports)
    try:
        key = dev_key(home / "data")
        assert httpx.post(f"{url}/api/v1/memories", json={}).status_code == 401
        memory_id = post_until_created(url, {"subject_id": "u", "text": "before restart"}, key)
        runtime_env = (home / "data" / "runtime.env").read_text()
        assert f"127.0.0.1:{ports['kafka']}" in runtime_env and "DATABASE_URL=" in runtime_env
    finally:
        stop_dev(proc, ports)
    proc, second_start = start_dev(home / "data", ports)
    try:
        assert dev_key(home / "data") == key, "the development key survives a restart"
        fetched = httpx.get(f"{url}/api/v1/memories/{memory_id}", timeout=10, headers=key)
        assert fetched.status_code == 200 and fetched.json()["data"]["text"] == "before restart"
        post_until_created(url, {"subject_id": "u", "text": "after restart"}, key)
    finally:
        stop_dev(proc, ports)
    print(f"core dev start: first {first_start:.1f}s, restart {second_start:.1f}s")
