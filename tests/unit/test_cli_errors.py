"""The one-line explanations of `core` command failures: what was tried (never a password),
what to do."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from pydantic import ValidationError

from core.cli import build_parser, command_name
from core.cli_errors import CommandError, explain, kafka_target, postgres_target
from kernel.kafka import TopicMissing
from kernel.settings import Settings

pytestmark = pytest.mark.unit


def settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg]


def test_postgres_target_names_the_setting_never_the_password() -> None:
    target = postgres_target(settings(DATABASE_URL="postgresql://core:pw-123@db:6543/core"))
    assert target == "Postgres at core@db:6543/core (from DATABASE_URL)"
    embedded = postgres_target(settings(CORE_HOME="/nonexistent", CORE_PG_PORT="54329"))
    assert "127.0.0.1:54329" in embedded and "core dev" in embedded


def test_kafka_lines_say_where_and_what_to_do() -> None:
    configured = settings(KAFKA_BOOTSTRAP_SERVERS="k1:9092,k2:9092")
    assert kafka_target(configured) == "Kafka at k1:9092,k2:9092 (from KAFKA_BOOTSTRAP_SERVERS)"
    line = explain(KafkaConnectionError("Unable to bootstrap from [...]"), configured)
    assert line.startswith("cannot reach Kafka at k1:9092,k2:9092") and "no broker answered" in line
    missing = explain(TopicMissing("Kafka topic 'core.events' does not exist (…)"), configured)
    assert "core.events" in missing and "CORE_TOPIC_PREFIX" in missing


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(ValidationError) as raised:
        settings(CORE_PARTITIONS="many")
    line = explain(raised.value, None)
    assert line.startswith("invalid settings (CORE_PARTITIONS") and "\n" not in line


def test_anything_else_is_one_line_with_the_debug_hint() -> None:
    assert explain(CommandError("refusing to start: x"), None) == "refusing to start: x"
    line = explain(RuntimeError("first line\nsecond line"), None)
    assert line == "RuntimeError: first line (set CORE_DEBUG=1 for the traceback)"


def test_command_names_include_the_subcommand() -> None:
    parser = build_parser()
    assert command_name(parser.parse_args(["keys", "list"])) == "core keys list"
    assert command_name(parser.parse_args(["projections", "rebuild"])) == \
        "core projections rebuild"
    assert command_name(parser.parse_args(["serve"])) == "core serve"
