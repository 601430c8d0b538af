"""`core dev`: embedded Postgres and Kafka, migrations, topics, then the API and a worker.

Every service is a child process that dies with this one (PR_SET_PDEATHSIG). A child that
dies is restarted with exponential backoff (`core.restarts`), one log line per restart.
Ctrl-C or SIGTERM stops them in reverse order and waits for each (the Kafka nodes of a
cluster together).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from core.restarts import Backoff, Supervised, stop_in_reverse
from kernel.runtime.kafka_broker import start_kafka
from kernel.runtime.kafka_cluster import NodePorts, start_cluster, start_node
from kernel.runtime.postgres import embedded_password, start_postgres
from kernel.runtime.process import ChildProcess, wait_for_port
from kernel.settings import Settings


def _log(line: str) -> None:
    print(line, flush=True)


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.core_home.resolve()
        self.units: list[Supervised] = []
        self.policy = Backoff()
        self.stopping = False
        self.dev_key = ""

    def log_path(self, name: str) -> Path:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"{name}.log"

    def supervise(self, name: str, start: Callable[[], ChildProcess], group: str = "",
                  child: ChildProcess | None = None) -> None:
        self.units.append(Supervised(name, start, self.policy, _log, child, group or name))

    def start_services(self) -> None:
        if self.settings.embedded_postgres:
            password = embedded_password(self.settings.embedded_password_file)
            self.supervise("postgres", partial(
                start_postgres, self.home / "pg" / "data", self.settings.pg_port,
                self.log_path("postgres"), password))
        if self.settings.embedded_kafka and self.settings.kafka_brokers == 1:
            self.supervise("kafka", partial(
                start_kafka, self.home / "kafka", self.settings.kafka_port,
                self.settings.kafka_jars_dir, self.log_path("kafka")))
        elif self.settings.embedded_kafka:
            self.start_kafka_cluster()

    def start_kafka_cluster(self) -> None:
        home, jars = self.home / "kafka-cluster", self.settings.kafka_jars_dir
        ports = [NodePorts(port, port + 1) for port in self.settings.embedded_kafka_ports]
        logs = self.log_path("kafka-1").parent
        for node, child in enumerate(start_cluster(home, ports, jars, logs), 1):
            restart = partial(start_node, home, node, ports, jars, self.log_path(child.name))
            self.supervise(child.name, restart, "kafka", child)

    def runtime_env(self) -> dict[str, str]:
        return {
            "CORE_API_KEY": self.dev_key,
            "DATABASE_URL": self.settings.resolved_database_url(),
            "KAFKA_BOOTSTRAP_SERVERS": self.settings.resolved_bootstrap(),
            "CORE_TOPIC_PREFIX": self.settings.topic_prefix,
            "CORE_REPLICATION_FACTOR": str(self.settings.replication_factor),
            "CORE_MIN_INSYNC_REPLICAS": str(self.settings.min_insync_replicas),
            "CORE_HOME": str(self.home),
            **dev_master_key(self.home, self.settings),
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
        self.supervise("worker", partial(
            ChildProcess.start, "worker", [*exe, "worker"], log_path=self.log_path("worker"),
            env=env))
        self.supervise("api", partial(self.start_api, [*exe, "serve", "--no-migration-check"],
                                      env))

    def start_api(self, argv: list[str], env: dict[str, str]) -> ChildProcess:
        child = ChildProcess.start("api", argv, env=env, stop_signal=signal.SIGTERM)
        try:
            wait_for_port(self.settings.host, self.settings.port, timeout=60, child=child)
        except BaseException:
            child.kill()
            raise
        return child

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        stop_in_reverse(self.units)

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
                  f"(settings in {self.home / 'runtime.env'})", flush=True)
            print(self.key_notice(), flush=True)
            return self.watch()
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            self.stop()

    def key_notice(self) -> str:
        """The key itself only on a terminal: redirected output ends up in log files."""
        if sys.stdout.isatty():
            return f"[core] development API key (all projects, all scopes): {self.dev_key}"
        return (f"[core] development API key (all projects, all scopes): CORE_API_KEY in "
                f"{self.home / 'runtime.env'} (mode 0600)")

    def watch(self) -> int:
        """Restarts dead children until Ctrl-C or SIGTERM ends `run`."""
        while True:
            now = time.monotonic()
            for unit in self.units:
                unit.check(now)
            time.sleep(0.2)

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


def dev_master_key(home: Path, settings: Settings) -> dict[str, str]:
    """The deployment's master key setting; without one, a development key generated once
    into CORE_HOME/master-key (mode 0600) and named by CORE_MASTER_KEY_FILE."""
    if settings.master_key:
        return {"CORE_MASTER_KEY": settings.master_key}
    if settings.master_key_file:
        return {"CORE_MASTER_KEY_FILE": settings.master_key_file}
    from kernel.shredding import new_master_key

    path = home / "master-key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(new_master_key() + "\n")
    return {"CORE_MASTER_KEY_FILE": str(path.resolve())}
