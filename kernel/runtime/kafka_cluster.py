"""N combined KRaft nodes (controller+broker) on 127.0.0.1, from the single node's jars.

Layout under `home`: `cluster.id` (written once, so restarts reuse it) and, per node,
`node-<id>/server.properties` and `node-<id>/data`. Node ids are 1..N; node i listens on its
own broker and controller port and every node is a voter of the controller quorum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kernel.runtime.kafka_broker import (
    fetch_jars,
    format_storage,
    java_argv,
    new_cluster_id,
    node_properties,
)
from kernel.runtime.process import ChildProcess, wait_for_port
from kernel.settings import replication_for

CLUSTER_HEAP = ["-Xms128m", "-Xmx384m"]  # three JVMs share a small machine

# These decide how long an acks=all produce waits after a broker dies.
CLUSTER_TIMEOUTS = """\
# A follower that has fetched nothing for this long leaves the ISR, so a leader stops waiting
# for a dead follower (which the controller usually fences sooner, see below).
replica.lag.time.max.ms=10000
# The active controller fences a broker that has not heartbeated for this long, drops it from
# every ISR and moves its leaderships to in-sync followers: the usual bound on a write pause.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
# A voter that hears nothing from the quorum leader for this long starts an election...
controller.quorum.fetch.timeout.ms=2000
# ...and an election round that reaches no majority is retried after up to this long.
controller.quorum.election.timeout.ms=1000
"""


@dataclass(frozen=True)
class NodePorts:
    broker: int
    controller: int


def voters(ports: Sequence[NodePorts]) -> str:
    return ",".join(f"{i}@127.0.0.1:{p.controller}" for i, p in enumerate(ports, start=1))


def cluster_id(home: Path) -> str:
    path = home / "cluster.id"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(new_cluster_id())
    return path.read_text().strip()


def write_node_config(home: Path, node_id: int, ports: Sequence[NodePorts]) -> Path:
    node_home = home / f"node-{node_id}"
    log_dir = (node_home / "data").resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    own = ports[node_id - 1]
    replicas, min_isr = replication_for(len(ports))
    config = node_home / "server.properties"
    config.write_text(node_properties(node_id, own.broker, own.controller, voters(ports),
                                      log_dir, replicas, min_isr) + CLUSTER_TIMEOUTS)
    return config


def launch_node(home: Path, node_id: int, ports: Sequence[NodePorts], jars_dir: Path,
                log_path: Path) -> ChildProcess:
    """Starts node `node_id` (1-based), formatting its log dir first if new; does not wait."""
    config = write_node_config(home, node_id, ports)
    if not (config.parent / "data" / "meta.properties").exists():
        format_storage(jars_dir, config, cluster_id(home))
    argv = java_argv(jars_dir, CLUSTER_HEAP, "kafka.Kafka", str(config))
    return ChildProcess.start(f"kafka-{node_id}", argv, log_path=log_path)


def start_node(home: Path, node_id: int, ports: Sequence[NodePorts], jars_dir: Path,
               log_path: Path) -> ChildProcess:
    """(Re)starts one node of a running cluster and waits for its broker port."""
    child = launch_node(home, node_id, ports, jars_dir, log_path)
    _wait_or_kill([child], [ports[node_id - 1]])
    return child


def start_cluster(home: Path, ports: Sequence[NodePorts], jars_dir: Path,
                  logs_dir: Path) -> list[ChildProcess]:
    """Launches every node before waiting on any: no node serves before a quorum is up."""
    fetch_jars(jars_dir)
    children = [launch_node(home, i, ports, jars_dir, logs_dir / f"kafka-{i}.log")
                for i in range(1, len(ports) + 1)]
    _wait_or_kill(children, ports)
    return children


def stop_cluster(children: Sequence[ChildProcess]) -> None:
    """Signals every node at once: stopped one by one, the last would wait for a lost quorum."""
    for child in children:
        child.request_stop()
    for child in children:
        child.stop()


def _wait_or_kill(children: Sequence[ChildProcess], ports: Sequence[NodePorts]) -> None:
    try:
        for child, own in zip(children, ports, strict=True):
            wait_for_port("127.0.0.1", own.broker, timeout=90, child=child)
    except BaseException:
        for child in children:
            child.kill()
        raise
