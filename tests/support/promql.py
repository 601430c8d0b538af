"""The metric names that CORE's Grafana dashboards and Prometheus rules query, and the
names a `/metrics` exposition really offers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
RULES = COMPOSE / "prometheus"
DASHBOARDS = COMPOSE / "grafana" / "dashboards"
SUFFIXES = ("", "_total", "_bucket", "_count", "_sum", "_created")
RAW = re.compile(r"(?<![:\w])core_[a-z0-9_]+(?![:\w])")
RECORDED = re.compile(r"(?<![\w$])[a-z_]+:[a-z0-9_:]+(?![\w])")


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # inside collapsed rows


def dashboard_expressions() -> list[str]:
    return [target["expr"] for board in dashboards().values() for panel in panels(board)
            for target in panel.get("targets", [])]


def rule_expressions() -> list[str]:
    return [rule["expr"] for name in ("recording.yml", "alerts.yml")
            for group in yaml.safe_load((RULES / name).read_text())["groups"]
            for rule in group["rules"]]


def recorded_series() -> set[str]:
    return {rule["record"] for group in yaml.safe_load((RULES / "recording.yml").read_text())
            ["groups"] for rule in group["rules"] if "record" in rule}


def raw_metrics(expressions: Iterable[str]) -> set[str]:
    return {name for expr in expressions for name in RAW.findall(expr)}


def recorded_metrics(expressions: Iterable[str]) -> set[str]:
    return {name for expr in expressions for name in RECORDED.findall(expr)}


def with_suffixes(families: Iterable[str]) -> set[str]:
    return {name + suffix for name in families for suffix in SUFFIXES}


def exposed_families(exposition: str) -> set[str]:
    """Family names of a Prometheus text exposition (HELP/TYPE count: a labelled family
    without samples yet is still exported)."""
    return {family.name for family in text_string_to_metric_families(exposition)}
