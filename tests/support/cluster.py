"""A real N-node Kafka cluster (KRaft, combined controller+broker) for fault drills.

    cluster = Cluster.start(home, jars_dir, logs_dir, nodes=3)
    try:
        settings = Settings(KAFKA_BOOTSTRAP_SERVERS=cluster.bootstrap, ...)
        cluster.kill(2)      # SIGKILL node 2 (ids are 1..N, as in node.id)
        cluster.restart(2)   # same ports, same log dir, same cluster id; waits for its port
    finally:
        cluster.stop()       # every node, signalled together

Every node is a child that dies with the test process (PR_SET_PDEATHSIG). Node i logs to
`logs_dir/kafka-<i>.log`. The cluster uses the broker defaults of `kafka_cluster`
(replication 3, min ISR 2 with three nodes, and its broker timeouts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kernel.runtime.kafka_cluster import NodePorts, start_cluster, start_node, stop_cluster
from kernel.runtime.process import ChildProcess, free_port


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class Cluster:
    home: Path
    jars_dir: Path
    logs_dir: Path
    ports: list[NodePorts]
    nodes: dict[int, ChildProcess] = field(default_factory=dict)

    @classmethod
    def start(cls, home: Path, jars_dir: Path, logs_dir: Path, nodes: int = 3) -> Cluster:
        """Formats (first time) and starts `nodes` nodes under `home`; waits for every broker."""
        free = distinct_free_ports(2 * nodes)
        ports = [NodePorts(free[2 * i], free[2 * i + 1]) for i in range(nodes)]
        logs_dir.mkdir(parents=True, exist_ok=True)
        cluster = cls(home, jars_dir, logs_dir, ports)
        children = start_cluster(home, ports, jars_dir, logs_dir)
        cluster.nodes = dict(enumerate(children, start=1))
        return cluster

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{p.broker}" for p in self.ports)

    def broker_port(self, node: int) -> int:
        return self.ports[node - 1].broker

    def kill(self, node: int) -> None:
        """SIGKILL: no controlled shutdown, no leadership hand-over."""
        self.nodes[node].kill()

    def restart(self, node: int) -> None:
        self.nodes[node].stop()
        self.nodes[node] = start_node(self.home, node, self.ports, self.jars_dir,
                                      self.logs_dir / f"kafka-{node}.log")

    def stop(self) -> None:
        """Every node at once (a quorum stopped one by one leaves the last one hanging)."""
        stop_cluster(list(self.nodes.values()))
