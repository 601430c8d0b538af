"""The system under test: started here on embedded Postgres + Kafka (the `core dev` runtime,
in a temporary CORE_HOME on free ports), or an already running one given by its addresses."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from core.supervisor import Supervisor
from kernel.runtime.process import ChildProcess, free_port, wait_for_port
from kernel.settings import Settings


@dataclass
class Stack:
    url: str
    api_key: str
    database_url: str
    bootstrap: str
    topic_prefix: str = "core"
    worker_group: str = "core-projector"
    partitions: int = 12
    pids: dict[str, list[int]] = field(default_factory=dict)
    supervisor: Supervisor | None = None
    home: Path | None = None

    def settings(self, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "DATABASE_URL": self.database_url, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CORE_TOPIC_PREFIX": self.topic_prefix, "CORE_WORKER_GROUP": self.worker_group,
            "CORE_PARTITIONS": self.partitions,
            "CORE_HOME": str(self.home or tempfile.gettempdir()), **overrides}
        return Settings(**values)  # type: ignore[arg-type]

    def stop(self, keep_logs: Path | None = None) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.home is not None:
            if keep_logs is not None and (self.home / "logs").exists():
                shutil.copytree(self.home / "logs", keep_logs, dirs_exist_ok=True)
            shutil.rmtree(self.home, ignore_errors=True)


def start_stack(api_workers: int, partitions: int) -> Stack:
    """Postgres, Kafka, migrations, topics, a key, then the API and one worker (as `core dev`)."""
    home = Path(tempfile.mkdtemp(prefix="core-bench-"))
    home.chmod(0o755)
    port, pg_port, kafka_port = free_port(), free_port(), free_port(pair=True)
    os.environ.update({"CORE_API_WORKERS": str(api_workers), "CORE_PARTITIONS": str(partitions)})
    settings = Settings(CORE_HOME=home, PORT=port, CORE_PG_PORT=pg_port,  # type: ignore[call-arg]
                        CORE_KAFKA_PORT=kafka_port, CORE_PARTITIONS=partitions,
                        CORE_KAFKA_JARS=Path(__file__).resolve().parents[1] / ".cache/kafka-libs")
    supervisor = Supervisor(settings)
    try:
        supervisor.start_services()
        supervisor.prepare()
        supervisor.write_runtime_env()
        start_app_processes(supervisor)
    except BaseException:
        Stack("", "", "", "", supervisor=supervisor, home=home).stop(Path("bench-results/logs"))
        raise
    pids = {unit.name: [unit.child.pid] for unit in supervisor.units}
    return Stack(f"http://127.0.0.1:{port}", supervisor.dev_key,
                 settings.resolved_database_url(), settings.resolved_bootstrap(),
                 settings.topic_prefix, settings.worker_group, partitions, pids, supervisor,
                 home)


def start_app_processes(supervisor: Supervisor) -> None:
    """As `core dev` does, but with the API's output in a log file too (one line a request)."""
    settings = supervisor.settings
    env = {**os.environ, **supervisor.runtime_env(), "PORT": str(settings.port),
           "CORE_PARTITIONS": str(settings.partitions)}
    exe = [sys.executable, "-m", "core.cli"]
    supervisor.supervise("worker", partial(
        ChildProcess.start, "worker", [*exe, "worker"], log_path=supervisor.log_path("worker"),
        env=env))
    supervisor.supervise("api", partial(
        ChildProcess.start, "api", [*exe, "serve", "--no-migration-check"],
        log_path=supervisor.log_path("api"), env=env, stop_signal=signal.SIGTERM))
    wait_for_port(settings.host, settings.port, timeout=60, child=supervisor.units[-1].child)
