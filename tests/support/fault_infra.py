"""Infrastructure that fault drills may break: its own Postgres and a 3-broker Kafka cluster
(replication 3, min ISR 2), with SIGKILL of a whole service (its process group, as a crashed
container) and a restart on the same ports and data directories."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from pathlib import Path

from kernel.runtime.kafka_cluster import start_cluster
from kernel.runtime.postgres import start_postgres
from kernel.runtime.process import ChildProcess, free_port
from tests.support.cluster import Cluster
from tests.support.system import ARTIFACTS, REPO, Infra

REPLICATION = {"CORE_REPLICATION_FACTOR": "3", "CORE_MIN_INSYNC_REPLICAS": "2"}
"""Settings every system on this infrastructure runs with."""


class FaultInfra(Infra):
    cluster: Cluster

    @classmethod
    def start(cls) -> FaultInfra:
        home = Path(tempfile.mkdtemp(prefix="core-drills-"))
        home.chmod(0o755)
        infra = cls(home, free_port(), 0)
        infra.children = [infra._postgres()]
        infra.cluster = Cluster.start(home / "kafka", REPO / ".cache" / "kafka-libs",
                                      ARTIFACTS / "logs" / "drills", nodes=3)
        return infra

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def stop(self) -> None:
        self.cluster.stop()
        super().stop()

    def _postgres(self) -> ChildProcess:
        logs = ARTIFACTS / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return start_postgres(self.home / "pg" / "data", self.pg_port, logs / "drills-pg.log")

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
        """Every broker at once (a whole-cluster crash)."""
        for node in self.cluster.nodes.values():
            self._kill_group(node)

    def restart_kafka(self) -> None:
        cluster = self.cluster
        children = start_cluster(cluster.home, cluster.ports, cluster.jars_dir, cluster.logs_dir)
        cluster.nodes = dict(enumerate(children, start=1))
