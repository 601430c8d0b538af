"""With N embedded Kafka nodes the bootstrap lists all of them and topics are replicated
3 ways with 2 in sync, unless replication is set explicitly."""

from __future__ import annotations

import pytest

from kernel.kafka import topic_specs
from kernel.settings import Settings

pytestmark = pytest.mark.unit


def test_one_node_keeps_the_single_copy_defaults() -> None:
    settings = Settings(CORE_KAFKA_PORT=19092)
    assert settings.resolved_bootstrap() == "127.0.0.1:19092"
    assert (settings.replication_factor, settings.min_insync_replicas) == (1, 1)


def test_three_nodes_list_every_broker_and_replicate_three_ways() -> None:
    settings = Settings(CORE_KAFKA_PORT=19092, CORE_KAFKA_BROKERS=3)
    assert settings.resolved_bootstrap() == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)


def test_explicit_replication_wins_over_the_node_count() -> None:
    settings = Settings(CORE_KAFKA_BROKERS=3, CORE_REPLICATION_FACTOR=2,
                        CORE_MIN_INSYNC_REPLICAS=1)
    assert (settings.replication_factor, settings.min_insync_replicas) == (2, 1)


def test_min_isr_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValueError, match="CORE_MIN_INSYNC_REPLICAS"):
        Settings(CORE_REPLICATION_FACTOR=1, CORE_MIN_INSYNC_REPLICAS=2)


def test_topics_are_created_with_the_replication_settings() -> None:
    specs = topic_specs(Settings(CORE_KAFKA_BROKERS=3))
    assert {spec.replication_factor for spec in specs} == {3}
    assert {spec.topic_configs["min.insync.replicas"] for spec in specs} == {"2"}
