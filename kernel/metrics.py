"""Process metrics in the default Prometheus registry (API: `GET /metrics`; worker: the
`CORE_WORKER_METRICS_PORT` endpoint). Families are defined here once; the code that feeds
them lives in the telemetry modules and reaches the write/read/projection code through one-line
hooks. Labels are bounded: route templates (never raw paths), methods, statuses, SQL verbs,
event types, partitions.

Every AI provider call (embeddings, classify, rerank, extract) reports through the
`on_call(provider, operation, seconds, outcome)` hook of `kernel.ai`; `record_provider_call`
is that hook. `outcome` is `ok`, `error` or `timeout`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PROVIDER_LABELS = ("provider", "operation", "outcome")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

PROVIDER_CALL_SECONDS = Histogram(
    "core_provider_call_seconds",
    "Duration of AI provider calls (embeddings and LLM), by provider, operation and outcome.",
    PROVIDER_LABELS,
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0),
)
PROVIDER_CALLS = Counter(
    "core_provider_calls_total",
    "AI provider calls (embeddings and LLM), by provider, operation and outcome.",
    PROVIDER_LABELS,
)

HTTP_REQUESTS = Counter(
    "core_http_requests_total", "HTTP requests by route template, method and status.",
    ("route", "method", "status"))
HTTP_SECONDS = Histogram(
    "core_http_request_duration_seconds",
    "Time to the response headers (for SSE: to the stream's start), by route template, "
    "method and status.", ("route", "method", "status"), buckets=LATENCY_BUCKETS)

DB_QUERY_SECONDS = Histogram(
    "core_db_query_duration_seconds", "Postgres statement duration by SQL verb.", ("verb",),
    buckets=FAST_BUCKETS)
DB_QUERY_ERRORS = Counter(
    "core_db_query_errors_total", "Postgres statements that failed, by SQL verb and error.",
    ("verb", "error"))
DB_POOL_IN_USE = Gauge("core_db_pool_in_use", "Pool connections checked out.", ("pool",))
DB_POOL_SIZE = Gauge("core_db_pool_size", "Pool connections open.", ("pool",))
DB_POOL_MAX = Gauge("core_db_pool_max", "Pool size limit.", ("pool",))
DB_POOL_WAITING = Gauge("core_db_pool_waiting", "Tasks waiting to acquire a connection.",
                        ("pool",))

SSE_SUBSCRIBERS = Gauge("core_sse_subscribers", "Open SSE streams of this API process.")
SSE_CATCHUP_READS = Counter(
    "core_sse_catchup_reads_total",
    "Kafka consumers opened to read what resuming SSE streams missed (streams resuming from "
    "the same position share one).")
SSE_REFUSED = Counter(
    "core_sse_refused_total", "SSE streams refused with 429, by the cap that was reached.",
    ("cap",))
SSE_DROPPED = Counter(
    "core_sse_dropped_total",
    "SSE streams the server ended, by reason: overflow (a slow client's queue filled up; it "
    "resumes with Last-Event-ID) or revoked (its credential is no longer admitted).",
    ("reason",))

KAFKA_PRODUCE_SECONDS = Histogram(
    "core_kafka_produce_duration_seconds", "Command event produce time until acks=all.",
    ("outcome",), buckets=LATENCY_BUCKETS)

PROJECTOR_EVENTS = Counter(
    "core_projector_events_total", "Records seen by the projector: applied or skipped.",
    ("result",))
PROJECTOR_BATCH_SECONDS = Histogram(
    "core_projector_batch_duration_seconds", "Projector batch apply time (one transaction).",
    buckets=LATENCY_BUCKETS)
COMMAND_TO_PROJECTION_SECONDS = Histogram(
    "core_command_to_projection_seconds",
    "From a command event's occurred_at to its outcome being applied, by event type.",
    ("type",), buckets=LATENCY_BUCKETS + (30.0, 60.0, 300.0))
PROJECTOR_LAG = Gauge(
    "core_projector_lag_events", "Log end offset minus the applied offset, per partition.",
    ("topic", "partition"))
OUTBOX_BACKLOG = Gauge("core_outbox_backlog", "Changes waiting in the outbox for the relay.")
DEAD_LETTERS = Counter("core_dead_letters_total", "Records produced to the DLQ topic.")
DLQ_RECORDS = Gauge(
    "core_dlq_records",
    "Records in the DLQ topic (its end offsets summed; retried letters stay in the topic).",
    ("topic",))
BACKGROUND_TASK_RESTARTS = Counter(
    "core_background_task_restarts_total",
    "Long-running background tasks that ended or died and were restarted, by task.", ("task",))
OUTBOX_RELAY_UP = Gauge(
    "core_outbox_relay_up", "1 while the outbox relay's last attempt succeeded, 0 while it fails.")
OUTBOX_OLDEST_SECONDS = Gauge(
    "core_outbox_oldest_seconds", "Age of the oldest change the relay has not delivered yet.")
LISTENER_UP = Gauge(
    "core_db_listener_up", "1 while the LISTEN connection is up, by listener.", ("listener",))
COMMAND_OUTCOME_PATHS = Counter(
    "core_command_outcome_paths_total",
    "How waiting writes learned their outcome: notice, lookup (a notice without the body), "
    "poll (listener down or just back) or deadline (read once at the timeout).", ("path",))
ANALYZE_RUNS = Counter("core_analyze_runs_total", "ANALYZE runs after large ingests, by table.",
                       ("table",))


def record_provider_call(provider: str, operation: str, seconds: float, outcome: str) -> None:
    """The `on_call` hook: one observation of one provider call."""
    PROVIDER_CALL_SECONDS.labels(provider, operation, outcome).observe(seconds)
    PROVIDER_CALLS.labels(provider, operation, outcome).inc()
