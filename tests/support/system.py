"""Real infrastructure for tests: one embedded Postgres and one Kafka per test session, and
any number of CORE systems on them (own database, own topic prefix, own API and worker)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from core.auth.api_keys import create_key
from core.auth.principal import SCOPES
from kernel.kafka import end_offsets, ensure_topics
from kernel.migrate import migrate
from kernel.runtime.kafka_broker import start_kafka
from kernel.runtime.postgres import start_postgres
from kernel.runtime.process import ChildProcess, free_port, wait_for_port
from kernel.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def free_port_pair() -> int:
    """A port whose successor is free too (Kafka's controller listens on port + 1)."""
    return free_port(pair=True)


@dataclass
class Infra:
    home: Path
    pg_port: int
    kafka_port: int
    children: list[ChildProcess] = field(default_factory=list)

    @classmethod
    def start(cls) -> Infra:
        home = Path(tempfile.mkdtemp(prefix="core-test-"))
        home.chmod(0o755)
        infra = cls(home, free_port(), free_port_pair())
        logs = ARTIFACTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        infra.children.append(start_postgres(home / "pg" / "data", infra.pg_port,
                                             logs / "postgres.log"))
        infra.children.append(start_kafka(home / "kafka", infra.kafka_port,
                                          REPO / ".cache" / "kafka-libs", logs / "kafka.log"))
        return infra

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"


@dataclass
class System:
    """One CORE deployment on the shared infrastructure."""

    infra: Infra
    name: str
    env_overrides: dict[str, str] = field(default_factory=dict)
    api: ChildProcess | None = None
    worker: ChildProcess | None = None
    port: int = 0
    api_key: str = ""

    @property
    def database(self) -> str:
        return f"core_{self.name}"

    @property
    def dsn(self) -> str:
        return self.infra.dsn(self.database)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap,
            "CORE_TOPIC_PREFIX": f"t{self.name}",
            "CORE_WORKER_GROUP": f"projector-{self.name}",
            "CORE_HOME": str(self.infra.home / self.name),
            "PORT": str(self.port),
            "CORE_PARTITIONS": "4",
            **self.env_overrides,
        }

    def settings(self) -> Settings:
        env = self.env()
        return Settings(**{k: v for k, v in env.items() if k.isupper() and k in _SETTING_ENV})

    async def prepare(self) -> None:
        admin = await asyncpg.connect(self.infra.dsn())
        try:
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()
        conn = await asyncpg.connect(self.dsn)
        try:
            await migrate(conn)
            _, self.api_key = await create_key(conn, name="tests", projects=["*"],
                                               scopes=list(SCOPES))
        finally:
            await conn.close()
        await ensure_topics(self.settings())

    async def recreate_database(self) -> None:
        """Drop the database (closing every connection to it) and create it empty."""
        admin = await asyncpg.connect(self.infra.dsn())
        try:
            await admin.execute(f'DROP DATABASE "{self.database}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            await admin.close()

    def start_worker(self) -> None:
        log = ARTIFACTS / "logs" / f"worker-{self.name}.log"
        self.worker = ChildProcess.start(
            "worker", [sys.executable, "-m", "core.cli", "worker"], env=self.env(), log_path=log)

    def start_api(self, log_name: str | None = None) -> None:
        self.port = self.port or free_port()
        log = ARTIFACTS / "logs" / f"{log_name or f'api-{self.name}'}.log"
        self.api = ChildProcess.start(
            "api", [sys.executable, "-m", "core.cli", "serve"], env=self.env(), log_path=log)
        wait_for_port("127.0.0.1", self.port, timeout=60, child=self.api)

    def start_replica(self, env: dict[str, str] | None = None) -> System:
        """Another API process of this deployment (same database and topics, own port and log),
        as behind a load balancer; `env` overrides settings for that process only."""
        replica = System(self.infra, self.name, {**self.env_overrides, **(env or {})},
                         port=free_port(), api_key=self.api_key)
        replica.start_api(log_name=f"api-{self.name}-{replica.port}")
        return replica

    def kill_api(self) -> None:
        if self.api is not None:
            self.api.popen.send_signal(signal.SIGKILL)
            self.api.popen.wait(timeout=10)

    def kill_worker(self) -> None:
        if self.worker is not None:
            self.worker.popen.send_signal(signal.SIGKILL)
            self.worker.popen.wait(timeout=10)

    def stop(self) -> None:
        for child in (self.api, self.worker):
            if child is not None:
                child.stop(timeout=15)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_projected(self, timeout: float = 60.0) -> None:
        """Wait until the projector's stored offsets reach the end of the events topic."""
        settings = self.settings()
        ends = await end_offsets(settings, settings.events_topic)
        await self._wait_offsets(ends, settings, timeout)

    async def _wait_offsets(self, ends: dict[int, int], settings: Settings,
                            timeout: float) -> None:
        deadline = time.monotonic() + timeout
        conn = await asyncpg.connect(self.dsn)
        try:
            while True:
                schema = await conn.fetchval(
                    "SELECT schema_name FROM projection_pointer") or "public"
                rows = await conn.fetch(
                    f'SELECT partition, next_offset FROM "{schema}".projection_offsets '
                    "WHERE consumer = $1 AND topic = $2", settings.worker_group,
                    settings.events_topic)
                done = {r["partition"]: r["next_offset"] for r in rows}
                if all(done.get(p, 0) >= end for p, end in ends.items()):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"projection behind: {done} < {ends}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def warm_up(self) -> None:
        """One write through the whole path, so tests start with a worker that owns partitions."""
        async with self.client() as client:
            await client.post("/api/v1/memories", headers={"x-project-id": "warm-up",
                                                           "Prefer": "respond-async"},
                              json={"subject_id": "warm-up", "text": "warm up"})
        await self.wait_projected(timeout=90)

    @property
    def auth_headers(self) -> dict[str, str]:
        """Credentials of an admin key (all projects, all scopes) created for the tests."""
        return {"x-api-key": self.api_key}

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        headers = {**self.auth_headers, **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        options: dict[str, object] = {"timeout": 30, **kwargs}
        return httpx.AsyncClient(base_url=self.url, headers=headers, **options)  # type: ignore[arg-type]


_SETTING_ENV = {
    "DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "CORE_TOPIC_PREFIX", "CORE_WORKER_GROUP",
    "CORE_HOME", "PORT", "CORE_PARTITIONS", "CORE_REPLICATION_FACTOR", "CORE_MIN_INSYNC_REPLICAS",
    "CORE_MASTER_KEY",
}


async def start_system(infra: Infra, *, api: bool = True,
                       env: dict[str, str] | None = None) -> System:
    system = System(infra, uuid.uuid4().hex[:10], dict(env or {}))
    system.port = free_port()
    await system.prepare()
    system.start_worker()
    if api:
        system.start_api()
        await system.warm_up()
    return system
