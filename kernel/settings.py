"""Typed settings: one class, read from the environment once per process and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kernel.ai.providers import parse_flag
from kernel.db_target import PostgresVars
from kernel.input_limits import MAX_ID_BYTES, fits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    core_home: Path = Field(default=Path(".core"), alias="CORE_HOME")
    host: str = Field(default="127.0.0.1", alias="HOST")
    port: int = Field(default=8080, alias="PORT")
    pg_port: int = Field(default=54329, alias="CORE_PG_PORT")
    kafka_port: int = Field(default=19092, alias="CORE_KAFKA_PORT")
    kafka_brokers: int = Field(default=1, ge=1, alias="CORE_KAFKA_BROKERS")
    replication_factor: int = Field(default=1, ge=1, alias="CORE_REPLICATION_FACTOR")
    min_insync_replicas: int = Field(default=1, ge=1, alias="CORE_MIN_INSYNC_REPLICAS")
    database_url: str = Field(default="", alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(default="", alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_prefix: str = Field(default="core", alias="CORE_TOPIC_PREFIX")
    partitions: int = Field(default=12, alias="CORE_PARTITIONS")
    changes_retention_ms: int = Field(default=7 * 24 * 3600 * 1000,
                                      alias="CORE_CHANGES_RETENTION_MS")
    worker_group: str = Field(default="core-projector", alias="CORE_WORKER_GROUP")
    default_project_id: str = Field(default="default-project", alias="CORE_DEFAULT_PROJECT_ID")
    command_timeout_ms: int = Field(default=5000, alias="CORE_COMMAND_TIMEOUT_MS")
    db_pool_max: int = Field(default=10, alias="CORE_DB_POOL_MAX")
    db_read_concurrency: int = Field(default=4, ge=1, alias="CORE_DB_READ_CONCURRENCY")
    projector_batch_max: int = Field(default=500, alias="CORE_PROJECTOR_BATCH_MAX")
    sse_heartbeat_ms: int = Field(default=30_000, alias="CORE_SSE_HEARTBEAT_MS")
    sse_max_per_project: int = Field(default=2000, alias="CORE_SSE_MAX_PER_PROJECT")
    sse_recheck_ms: int = Field(default=15_000, alias="CORE_SSE_RECHECK_MS")
    sse_queue_max: int = Field(default=1000, alias="CORE_SSE_QUEUE_MAX")
    sse_max_per_principal: int = Field(default=100, alias="CORE_SSE_MAX_PER_PRINCIPAL")
    sse_max_per_process: int = Field(default=5000, alias="CORE_SSE_MAX_PER_PROCESS")
    sse_catchup_max: int = Field(default=10_000, alias="CORE_SSE_CATCHUP_MAX")
    http_max_connections: int = Field(default=4096, alias="CORE_HTTP_MAX_CONNECTIONS")
    http_keep_alive_s: int = Field(default=5, alias="CORE_HTTP_KEEP_ALIVE_S")
    http_header_timeout_s: float = Field(default=10.0, alias="CORE_HTTP_HEADER_TIMEOUT_S")
    http_body_timeout_s: float = Field(default=30.0, alias="CORE_HTTP_BODY_TIMEOUT_S")
    debug: bool = Field(default=False, alias="CORE_DEBUG")
    openai_api_key: str = Field(default="", alias="OPENAI_API_KEY")
    openai_base_url: str = Field(default="", alias="OPENAI_BASE_URL")
    openai_embed_model: str = Field(default="text-embedding-3-small", alias="OPENAI_EMBED_MODEL")
    embed_timeout_ms: int = Field(default=3000, alias="CORE_EMBED_TIMEOUT_MS")
    core_ai_mode: str = Field(default="auto", alias="CORE_AI_MODE")
    cerebras_api: str = Field(default="", alias="CEREBRAS_API")
    cerebras_base_url: str = Field(default="", alias="CEREBRAS_BASE_URL")
    retrieval_model: str = Field(default="", alias="RETRIEVAL_MODEL")
    use_retrieval_expand: bool = Field(default=True, alias="USE_RETRIEVAL_EXPAND")
    auth: str = Field(default="required", alias="CORE_AUTH")
    jwt_secret: str = Field(default="", alias="CORE_JWT_SECRET")
    jwt_public_key: str = Field(default="", alias="CORE_JWT_PUBLIC_KEY")
    jwt_issuer: str = Field(default="", alias="CORE_JWT_ISSUER")
    jwt_audience: str = Field(default="", alias="CORE_JWT_AUDIENCE")
    jwt_max_lifetime_s: int = Field(default=86_400, alias="CORE_JWT_MAX_LIFETIME_S")
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=1, alias="CORE_IDEMPOTENCY_TTL_S")
    asof_max_per_project: int = Field(default=3, ge=1, alias="CORE_ASOF_MAX_PER_PROJECT")
    asof_ttl_s: float = Field(default=3600.0, gt=0, alias="CORE_ASOF_TTL_S")
    max_body_bytes: int = Field(default=1024 * 1024, alias="CORE_MAX_BODY_BYTES")
    kafka_jars_dir: Path = Field(default=Path(".cache/kafka-libs"), alias="CORE_KAFKA_JARS")
    worker_metrics_port: int = Field(default=0, alias="CORE_WORKER_METRICS_PORT")
    ready_max_lag: int = Field(default=10_000, alias="CORE_READY_MAX_LAG")
    ready_max_outbox_age_s: float = Field(default=30.0, alias="CORE_READY_MAX_OUTBOX_AGE_S")
    position_check_s: float = Field(default=5.0, alias="CORE_POSITION_CHECK_S")
    analyze_growth: float = Field(default=0.2, alias="CORE_ANALYZE_GROWTH")
    analyze_check_s: float = Field(default=5.0, alias="CORE_ANALYZE_CHECK_S")
    batch_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1,
                                      alias="CORE_BATCH_MAX_BODY_BYTES")
    batch_max_line_bytes: int = Field(default=1024 * 1024, ge=1,
                                      alias="CORE_BATCH_MAX_LINE_BYTES")
    batch_max_request_items: int = Field(default=100_000, ge=1, le=10**9,
                                         alias="CORE_BATCH_MAX_REQUEST_ITEMS")
    intake_group: str = Field(default="", alias="CORE_INTAKE_GROUP")
    master_key: str = Field(default="", alias="CORE_MASTER_KEY", repr=False)
    master_key_file: str = Field(default="", alias="CORE_MASTER_KEY_FILE")
    postgres_host: str = Field(default="", alias="POSTGRES_HOST")
    postgres_port: str = Field(default="", alias="POSTGRES_PORT")
    postgres_db: str = Field(default="", alias="POSTGRES_DB")
    postgres_user: str = Field(default="", alias="POSTGRES_USER")
    postgres_password: str = Field(default="", alias="POSTGRES_PASSWORD")
    sse_token_ttl_s: int = Field(default=900, ge=1, le=86_400, alias="CORE_SSE_TOKEN_TTL_S")

    @field_validator("default_project_id", mode="after")
    @classmethod
    def _blank_default_project(cls, value: str) -> str:
        project = value.strip() or "default-project"
        if not fits(project):  # every request would fail with 400 project_id_too_long
            raise ValueError(f"CORE_DEFAULT_PROJECT_ID must be at most {MAX_ID_BYTES} "
                             "UTF-8 bytes without NUL")
        return project

    @field_validator("use_retrieval_expand", mode="before")
    @classmethod
    def _retrieval_expand_flag(cls, value: object) -> object:
        """Spec flag syntax (§2): 1|true|yes|on, 0|false|no|off, anything else → default."""
        return parse_flag(value, True) if isinstance(value, str) else value

    @field_validator("debug", mode="before")
    @classmethod
    def _debug_flag(cls, value: object) -> object:
        return parse_flag(value, False) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _replication_follows_brokers(self) -> Settings:
        """Unless set explicitly, replication follows the embedded node count (3 nodes → 3/2)."""
        replicas, min_isr = replication_for(self.kafka_brokers)
        if "replication_factor" not in self.model_fields_set:
            self.replication_factor = replicas
        if "min_insync_replicas" not in self.model_fields_set:
            self.min_insync_replicas = min_isr
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError("CORE_MIN_INSYNC_REPLICAS exceeds CORE_REPLICATION_FACTOR")
        return self

    @property
    def embedded_postgres(self) -> bool:
        return not self.database_url and not self.postgres_vars.any_set

    @property
    def postgres_vars(self) -> PostgresVars:
        return PostgresVars(self.postgres_host.strip(), self.postgres_port.strip(),
                            self.postgres_db, self.postgres_user, self.postgres_password)

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}.events"

    @property
    def changes_topic(self) -> str:
        return f"{self.topic_prefix}.changes"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_prefix}.events.dlq"

    @property
    def commands_topic(self) -> str:
        return f"{self.topic_prefix}.commands"

    @property
    def rejected_commands_topic(self) -> str:
        return f"{self.topic_prefix}.commands.rejected"

    @property
    def intake_consumer_group(self) -> str:
        return self.intake_group or f"{self.worker_group}-intake"

    @property
    def embedded_password_file(self) -> Path:
        return self.core_home / "pg" / "password"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        if self.postgres_vars.any_set:
            return self.postgres_vars.url()
        password_file = self.embedded_password_file
        secret = f":{password_file.read_text().strip()}" if password_file.exists() else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.pg_port}/postgres"

    @property
    def embedded_kafka_ports(self) -> list[int]:
        """Broker port of each embedded node; node i's controller listens on its port + 1."""
        return [self.kafka_port + 2 * i for i in range(self.kafka_brokers)]

    def resolved_bootstrap(self) -> str:
        embedded = ",".join(f"127.0.0.1:{port}" for port in self.embedded_kafka_ports)
        return self.kafka_bootstrap_servers or embedded


def replication_for(nodes: int) -> tuple[int, int]:
    """Replication factor and min ISR on `nodes` brokers: one copy alone, three (two in sync)
    from three nodes on, so one broker may die without refusing acks=all writes."""
    replicas = min(3, nodes)
    return replicas, max(1, replicas - 1)


def load_settings() -> Settings:
    return Settings()
