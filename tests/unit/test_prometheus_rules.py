"""Alert and recording rules are valid, unit-tested with promtool, and name only metrics
the code exports. promtool is required (Debian package `prometheus`, installed by
`make setup`): without it these tests fail, they never skip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import kernel.metrics  # noqa: F401  (registers the families)

pytestmark = pytest.mark.unit
RULES = Path(__file__).resolve().parents[2] / "compose" / "prometheus"
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")


def promtool(*args: str) -> str:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: run `make setup` (apt-get install prometheus)"
    done = subprocess.run([tool, *args], cwd=RULES, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rule_files_are_valid() -> None:
    out = promtool("check", "rules", "recording.yml", "alerts.yml")
    assert out.count("SUCCESS") == 2


def test_prometheus_config_is_valid() -> None:
    promtool("check", "config", "prometheus.yml")


def test_alert_unit_tests_pass() -> None:
    tests = sorted(p.name for p in (RULES / "tests").glob("*.yml"))
    assert tests
    promtool("test", "rules", *[f"tests/{name}" for name in tests])


def exported_names() -> set[str]:
    names = {family.name for family in REGISTRY.collect() if family.name.startswith("core_")}
    return {name + suffix for name in names for suffix in SUFFIXES}


def rule_expressions() -> list[str]:
    found = []
    for name in ("recording.yml", "alerts.yml"):
        for group in yaml.safe_load((RULES / name).read_text())["groups"]:
            found += [rule["expr"] for rule in group["rules"]]
    return found


def test_rules_use_only_exported_metrics() -> None:
    used = {m for expr in rule_expressions()
            for m in re.findall(r"(?<![:\w])core_[a-z0-9_]+(?![:\w])", expr)}
    assert used and used <= exported_names(), used - exported_names()


def test_alerts_cover_the_slos() -> None:
    alerts = {rule["alert"] for group in yaml.safe_load((RULES / "alerts.yml").read_text())
              ["groups"] for rule in group["rules"]}
    assert alerts >= {"CoreHigh5xxRate", "CoreLatencyP99Regression", "CoreProjectorLagHigh",
                      "CoreDbPoolSaturated", "CoreProviderErrorRate",
                      "CoreSseSubscribersDropped"}
