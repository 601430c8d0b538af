"""The load harness runs end to end on a tiny workload against a running system.

Timings are benchmark output, never assertions: this only checks that every scenario ran,
the report has its figures and targets, and `compare` reads two reports.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.support.system import REPO, Infra, System

pytestmark = pytest.mark.integration

TINY = ["--duration", "1", "--write-levels", "1,2", "--read-concurrency", "2",
        "--read-sizes", "30,60", "--sse-subscribers", "3", "--sse-rate", "10",
        "--projector-events", "200"]


async def run_bench(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", *args, cwd=REPO, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode(errors="replace")


def target_args(system: System, infra: Infra, out: Path) -> list[str]:
    settings = system.settings()
    assert system.api is not None and system.worker is not None
    return ["--url", system.url, "--api-key", system.api_key, "--database-url", system.dsn,
            "--bootstrap", infra.bootstrap, "--topic-prefix", settings.topic_prefix,
            "--worker-group", settings.worker_group, "--partitions", str(settings.partitions),
            "--pid", f"api={system.api.pid}", "--pid", f"worker={system.worker.pid}",
            "--out", str(out)]


async def test_harness_runs_every_scenario_and_compares(system: System, infra: Infra,
                                                        tmp_path: Path) -> None:
    code, output = await run_bench(*target_args(system, infra, tmp_path), *TINY)
    assert code == 0, output
    [path] = list(tmp_path.glob("bench-*.json"))
    report = json.loads(path.read_text())
    groups = {row["group"] for row in report["scenarios"]}
    assert {"writes-async", "writes-wait", "sse", "reads-30", "reads-60", "search-store",
            "projector", "replay", "batch-async", "subjects", "wrk-plain-wait",
            "wrk-claim-async", "wrk-read-search", "wrk-read-list"} <= groups, output
    assert all(row["requests"] > 0 for row in report["scenarios"]), output
    assert len(report["targets"]) == 11
    assert {"api", "worker", "projector-worker"} <= set(report["memory_mb"])
    code, compared = await run_bench("compare", str(path), str(path))
    assert code == 0 and "1.00x" in compared, compared
