"""`core dev`: embedded Postgres and Kafka, migrations, topics, then the API and a worker.

Every service is a child process that dies with this one (PR_SET_PDEATHSIG); Ctrl-C or
SIGTERM stops them in reverse order and waits for each.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from kernel.runtime.kafka_broker import start_kafka
from kernel.runtime.postgres import start_postgres
from kernel.runtime.process import ChildProcess, wait_for_port
from kernel.settings import Settings


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.core_home.resolve()
        self.children: list[ChildProcess] = []
        self.stopping = False
        self.dev_key = ""

    def log_path(self, name: str) -> Path:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"{name}.log"

    def start_services(self) -> None:
        if self.settings.embedded_postgres:
            self.children.append(start_postgres(
                self.home / "pg" / "data", self.settings.pg_port, self.log_path("postgres")))
        if self.settings.embedded_kafka:
            self.children.append(start_kafka(
                self.home / "kafka", self.settings.kafka_port,
                self.settings.kafka_jars_dir, self.log_path("kafka")))

    def runtime_env(self) -> dict[str, str]:
        return {
            "CORE_API_KEY": self.dev_key,
            "DATABASE_URL": self.settings.resolved_database_url(),
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.resolved_bootstrap(),
            "CORE_TOPIC_PREFIX": self.settings.topic_prefix,
            "CORE_HOME": str(self.home),
        }

    def write_runtime_env(self) -> None:
        lines = [f"{k}={v}" for k, v in self.runtime_env().items()]
        path = self.home / "runtime.env"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)

    def prepare(self) -> None:
        from kernel.kafka import ensure_topics
        from kernel.migrate import migrate_now

        asyncio.run(ensure_topics(self.settings))
        migrate_now(self.settings.resolved_database_url())
        self.dev_key = asyncio.run(ensure_dev_key(self.home, self.settings.resolved_database_url()))

    def start_app_processes(self) -> None:
        env = {**os.environ, **self.runtime_env()}
        exe = [sys.executable, "-m", "core.cli"]
        self.children.append(ChildProcess.start(
            "worker", [*exe, "worker"], log_path=self.log_path("worker"), env=env))
        self.children.append(ChildProcess.start(
            "api", [*exe, "serve", "--no-migration-check"], env=env, stop_signal=signal.SIGTERM))
        wait_for_port(self.settings.host, self.settings.port, timeout=60, child=self.children[-1])

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in reversed(self.children):
            child.stop()

    def run(self) -> int:
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, lambda *_: self._raise_exit())
        try:
            self.start_services()
            self.prepare()
            self.write_runtime_env()
            self.start_app_processes()
            print(f"[core] up in {time.monotonic() - started:.1f}s: "
                  f"http://{self.settings.host}:{self.settings.port} "
                  f"(settings in {self.home / 'runtime.env'})\n"
                  f"[core] development API key (all projects, all scopes): {self.dev_key}",
                  flush=True)
            return self.watch()
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            self.stop()

    def watch(self) -> int:
        while True:
            for child in self.children:
                if not child.alive():
                    print(f"[core] {child.name} exited ({child.popen.returncode}); stopping",
                          flush=True)
                    return 1
            time.sleep(0.5)

    @staticmethod
    def _raise_exit() -> None:
        raise SystemExit(0)


async def ensure_dev_key(home: Path, dsn: str) -> str:
    """A development key, created on first start and kept in CORE_HOME (mode 600)."""
    from core.auth.api_keys import create_key, principal_for_key
    from core.auth.principal import SCOPES
    from kernel.db import create_pool

    path = home / "dev-api-key"
    pool = await create_pool(dsn, max_size=1)
    try:
        if path.exists() and await principal_for_key(pool, path.read_text().strip()):
            return path.read_text().strip()
        _, key = await create_key(pool, name="core dev", projects=["*"], scopes=list(SCOPES))
    finally:
        await pool.close()
    path.write_text(key)
    path.chmod(0o600)
    return key
