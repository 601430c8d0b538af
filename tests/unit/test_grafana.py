"""The Grafana provisioning of compose/ is consistent: the datasource points at the
Prometheus service, the dashboard provider at the mounted dashboards, every panel at the
provisioned datasource, and every PromQL expression at a metric the code defines or a
recorded series (tests/integration/test_dashboards.py checks the real endpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import kernel.metrics  # noqa: F401  (registers the families)
from tests.support.promql import (
    COMPOSE,
    dashboard_expressions,
    dashboards,
    panels,
    raw_metrics,
    recorded_metrics,
    recorded_series,
    with_suffixes,
)

pytestmark = pytest.mark.unit
GRAFANA = COMPOSE / "grafana"


def compose_service(name: str) -> dict[str, object]:
    services = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())["services"]
    service: dict[str, object] = services[name]
    return service


def mounts() -> dict[str, Path]:
    volumes = compose_service("grafana")["volumes"]
    assert isinstance(volumes, list)
    return {v.split(":")[1]: COMPOSE / v.split(":")[0] for v in volumes if v.startswith("./")}


def test_grafana_mounts_the_provisioning_and_dashboards() -> None:
    mounted = mounts()
    assert mounted["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    assert all(path.is_dir() for path in mounted.values())
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/core.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert mounted[path] == GRAFANA / "dashboards" and dashboards()
    env = compose_service("grafana")["environment"]
    assert isinstance(env, dict)
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (mounted[str(Path(home).parent)] / Path(home).name).exists()


def test_datasource_is_the_compose_prometheus() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = config["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert "9090:9090" in compose_service("prometheus")["ports"]  # type: ignore[operator]
    for board in dashboards().values():
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
            assert panel["targets"], panel["title"]


def test_dashboard_covers_the_operators_questions() -> None:
    exprs = dashboard_expressions()
    used = raw_metrics(exprs) | recorded_metrics(exprs)
    for needed in ("core_http_requests_total", "core_http_request_duration_seconds",
                   "core_projector_lag_events", "core_projector_batch_duration_seconds",
                   "core_sse_subscribers", "core_sse_dropped_total", "core_dlq_records",
                   "core_provider_calls_total", "core_provider_call_seconds"):
        assert any(needed in name for name in used), needed


def test_panels_query_only_defined_metrics() -> None:
    defined = with_suffixes(f.name for f in REGISTRY.collect() if f.name.startswith("core_"))
    exprs = dashboard_expressions()
    assert raw_metrics(exprs) <= defined, raw_metrics(exprs) - defined
    assert recorded_metrics(exprs) <= recorded_series(), \
        recorded_metrics(exprs) - recorded_series()


def test_panel_ids_are_unique_and_grid_fits() -> None:
    for name, board in dashboards().items():
        ids = [panel["id"] for panel in panels(board)]
        assert len(ids) == len(set(ids)), name
        for panel in panels(board):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
