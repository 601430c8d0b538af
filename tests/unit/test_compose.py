"""The compose topology matches the code: every CORE service runs a real `core` subcommand
with real settings (Settings aliases), the required connections are set, and the proxy and
Prometheus point at the services that exist. Docker cannot run here; this is what can be
checked without it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.cli import build_parser
from kernel.settings import Settings

pytestmark = pytest.mark.unit
COMPOSE = Path(__file__).resolve().parents[2] / "compose"
SETTING_ENV = {f.alias for f in Settings.model_fields.values() if f.alias}
REQUIRED = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
SHARED = ("CORE_TOPIC_PREFIX", "CORE_PARTITIONS", "CORE_WORKER_GROUP", "DATABASE_URL",
          "KAFKA_BOOTSTRAP_SERVERS")


def load(name: str) -> Any:
    return yaml.safe_load((COMPOSE / name).read_text())


SERVICES: dict[str, Any] = load("docker-compose.yml")["services"]


def core_services() -> dict[str, Any]:
    return {name: s for name, s in SERVICES.items()
            if s.get("build", {}).get("dockerfile") == "compose/Dockerfile"}


def by_command(subcommand: str) -> dict[str, Any]:
    return {n: s for n, s in core_services().items() if s["command"][1] == subcommand}


def interpolated(value: object) -> str:
    """Compose `${VAR:-default}` as it resolves with VAR unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolated(v) for k, v in (service.get("environment") or {}).items()}


def test_core_services_use_the_core_image_and_real_subcommands() -> None:
    services = core_services()
    assert set(services) == {"migrate", "topics", "api-1", "api-2", "worker-1", "worker-2"}
    for name, service in services.items():
        assert service["image"] == "core-memory-engine:latest", name
        assert service["build"]["context"] == ".." and (COMPOSE / "Dockerfile").exists()
        assert service["command"][0] == "core", name
        build_parser().parse_args(service["command"][1:])  # exits on an unknown command
    assert set(by_command("serve")) == {"api-1", "api-2"}
    assert set(by_command("worker")) == {"worker-1", "worker-2"}


@pytest.mark.parametrize("name", sorted(core_services()))
def test_environment_is_made_of_real_settings(name: str) -> None:
    env = env_of(core_services()[name])
    assert set(env) <= SETTING_ENV, set(env) - SETTING_ENV
    for required in REQUIRED:
        assert env.get(required), f"{name} must set {required}"
    Settings(_env_file=None, **env)  # type: ignore[call-arg]  # values have the right types


def test_connections_point_at_the_compose_services() -> None:
    postgres = SERVICES["postgres"]["environment"]
    for name, service in core_services().items():
        env = env_of(service)
        url = urlsplit(env["DATABASE_URL"])
        database = f"/{postgres['POSTGRES_DB']}"
        assert (url.hostname, url.port, url.path) == ("postgres", 5432, database)
        assert url.username == postgres["POSTGRES_USER"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
    values = {tuple(env_of(s).get(k) for k in SHARED) for s in core_services().values()}
    assert len(values) == 1, "every CORE service must share topics, group and connections"


def test_infrastructure_images_and_gates() -> None:
    kafka, postgres = SERVICES["kafka"], SERVICES["postgres"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert re.fullmatch(r"pgvector/pgvector:pg1[78]", postgres["image"])
    assert postgres["healthcheck"] and kafka["healthcheck"]
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in [*by_command("serve"), *by_command("worker")]:
        gates = SERVICES[name]["depends_on"]
        assert gates["migrate"]["condition"] == "service_completed_successfully", name
        assert gates["topics"]["condition"] == "service_completed_successfully", name


def test_prometheus_scrapes_every_api_and_worker() -> None:
    config = load("prometheus/prometheus.yml")
    jobs = {j["job_name"]: {t for c in j["static_configs"] for t in c["targets"]}
            for j in config["scrape_configs"]}
    apis = {f"{n}:{env_of(s)['PORT']}" for n, s in by_command("serve").items()}
    workers = {f"{n}:{env_of(s)['CORE_WORKER_METRICS_PORT']}"
               for n, s in by_command("worker").items()}
    assert jobs["core-api"] == apis and jobs["core-worker"] == workers
    for service in [*by_command("serve").values(), *by_command("worker").values()]:
        assert env_of(service)["HOST"] == "0.0.0.0"  # reachable from the Prometheus container
    mounted = {Path(v.split(":")[1]).name for v in SERVICES["prometheus"]["volumes"]
               if v.startswith("./")}
    assert set(config["rule_files"]) <= mounted
    assert all((COMPOSE / v.split(":")[0]).exists() for v in SERVICES["prometheus"]["volumes"]
               if v.startswith("./"))


def test_proxy_balances_the_api_replicas_and_keeps_sse_streaming() -> None:
    mount = SERVICES["proxy"]["volumes"][0].split(":")[0]
    conf = (COMPOSE / mount).read_text()
    upstream = re.search(r"upstream core_api \{(.*?)\}", conf, re.S)
    assert upstream is not None
    servers = set(re.findall(r"server ([\w.-]+:\d+)", upstream.group(1)))
    assert servers == {f"{n}:{env_of(s)['PORT']}" for n, s in by_command("serve").items()}
    sse = re.search(r"location /api/v1/events/ \{(.*?)\}", conf, re.S)
    assert sse is not None
    assert "proxy_buffering off;" in sse.group(1)
    timeout = re.search(r"proxy_read_timeout (\d+)([smh]);", sse.group(1))
    assert timeout is not None
    seconds = int(timeout.group(1)) * {"s": 1, "m": 60, "h": 3600}[timeout.group(2)]
    assert seconds > 2 * Settings(_env_file=None).sse_heartbeat_ms / 1000  # type: ignore[call-arg]
    assert "proxy_http_version 1.1;" in conf


def test_dockerfile_installs_the_project() -> None:
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install ." in dockerfile and "COPY migrations ./migrations" in dockerfile
