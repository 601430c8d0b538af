"""Infrastructure that fault drills may break: its own Postgres and Kafka, with SIGKILL of
a whole service (its process group, as a crashed container) and a restart on the same
port and data directory."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

from kernel.runtime.kafka_broker import start_kafka
from kernel.runtime.postgres import start_postgres
from kernel.runtime.process import ChildProcess, free_port
from tests.support.system import ARTIFACTS, REPO, Infra, free_port_pair


class FaultInfra(Infra):
    @classmethod
    def start(cls) -> FaultInfra:
        home = Path(tempfile.mkdtemp(prefix="core-drills-"))
        home.chmod(0o755)
        infra = cls(home, free_port(), free_port_pair())
        infra.children = [infra._postgres(), infra._kafka()]
        return infra

    def _logs(self, name: str) -> Path:
        logs = ARTIFACTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"drills-{name}.log"

    def _postgres(self) -> ChildProcess:
        return start_postgres(self.home / "pg" / "data", self.pg_port, self._logs("postgres"))

    def _kafka(self) -> ChildProcess:
        return start_kafka(self.home / "kafka", self.kafka_port, REPO / ".cache" / "kafka-libs",
                           self._logs("kafka"))

    @staticmethod
    def _kill_group(child: ChildProcess) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.popen.wait(timeout=30)

    def kill_postgres(self) -> None:
        self._kill_group(self.children[0])

    def restart_postgres(self) -> None:
        self.children[0] = self._postgres()

    def kill_kafka(self) -> None:
        self._kill_group(self.children[1])

    def restart_kafka(self) -> None:
        self.children[1] = self._kafka()
