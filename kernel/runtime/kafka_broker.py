"""Single-node Apache Kafka (KRaft, broker+controller) from jars that Maven fetches once.

`kafka_cluster` runs several such nodes from the same template (`node_properties`)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from kernel.runtime.process import ChildProcess, wait_for_port

KAFKA_DIR = Path(__file__).parent / "kafka"

SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dir}
num.partitions=12
default.replication.factor={replicas}
min.insync.replicas={min_isr}
auto.create.topics.enable=false
log.retention.ms=-1
log.retention.bytes=-1
offsets.topic.replication.factor={replicas}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=33554432
"""

# A single node: the active controller appends a no-op record to the metadata log (and
# fsyncs it) every `metadata.max.idle.interval.ms` (default 500 ms) so that brokers can tell
# the quorum is alive; with one node nobody else listens, and at 2/s it was a third of an
# idle broker's CPU. The cluster keeps the default (its brokers do listen).
SINGLE_NODE_PROPERTIES = """\
metadata.max.idle.interval.ms=5000
"""
SINGLE_NODE_HEAP = ["-Xms256m", "-Xmx1g"]
JAVA_OPTS = [
    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15", "-XX:+ExitOnOutOfMemoryError",
    "-Xshare:auto", "-Djava.awt.headless=true",
]


def fetch_jars(jars_dir: Path) -> None:
    """Maven copies the broker's jars from Central into `jars_dir` (once)."""
    if any(jars_dir.glob("kafka_2.13-*.jar")):
        return
    jars_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mvn", "-B", "-q", "-f", str(KAFKA_DIR / "pom.xml"), "dependency:copy-dependencies",
         f"-Dkafka.libs.dir={jars_dir.resolve()}"],
        check=True,
    )


def new_cluster_id() -> str:
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not value.startswith("-"):
            return value


C1_ONLY = ["-XX:TieredStopAtLevel=1"]
"""For the storage tool and the nodes of a 3-node cluster: three JVMs compiling with the
optimizing tier (C2) at once on a small machine slowed the cluster's start and its metadata
propagation (new topics not yet visible to a service's pre-flight check)."""


def java_argv(jars_dir: Path, heap: list[str], main: str, *args: str,
              jit: Sequence[str] = C1_ONLY) -> list[str]:
    log4j = f"-Dlog4j.configuration=file:{KAFKA_DIR / 'log4j.properties'}"
    return ["java", *heap, *JAVA_OPTS, *jit, log4j, "-cp", f"{jars_dir.resolve()}/*", main,
            *args]


def node_properties(node_id: int, port: int, controller_port: int, voters: str, log_dir: Path,
                    replicas: int = 1, min_isr: int = 1) -> str:
    return SERVER_PROPERTIES.format(node_id=node_id, port=port, controller_port=controller_port,
                                    voters=voters, log_dir=log_dir, replicas=replicas,
                                    min_isr=min_isr)


def write_config(home: Path, port: int) -> Path:
    log_dir = (home / "data").resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    voters = f"1@127.0.0.1:{port + 1}"
    config.write_text(node_properties(1, port, port + 1, voters, log_dir)
                      + SINGLE_NODE_PROPERTIES)
    return config


def format_storage(jars_dir: Path, config: Path, cluster_id: str) -> None:
    """Writes meta.properties into the node's log dir, once (`--ignore-formatted`)."""
    ChildProcess.run_once(
        java_argv(jars_dir, ["-Xmx256m"], "kafka.tools.StorageTool", "format", "--cluster-id",
                  cluster_id, "--config", str(config), "--ignore-formatted")
    )


def start_kafka(home: Path, port: int, jars_dir: Path, log_path: Path) -> ChildProcess:
    fetch_jars(jars_dir)
    config = write_config(home, port)
    if not (home / "data" / "meta.properties").exists():
        format_storage(jars_dir, config, new_cluster_id())
    child = ChildProcess.start(
        # The single node keeps C2: stopping at C1 cost a third more broker CPU per write
        # (0.24 → 0.18 ms, wrk plain waiting writes).
        "kafka", java_argv(jars_dir, SINGLE_NODE_HEAP, "kafka.Kafka", str(config), jit=()),
        log_path=log_path,
    )
    wait_for_port("127.0.0.1", port, timeout=90, child=child)
    return child
