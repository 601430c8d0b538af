"""OpenTelemetry traces: one write is one trace across the API and the workers.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
`CORE_OTEL_FILE` for a JSON-lines file) is set; `OTEL_SDK_DISABLED=true` forces it off.
When off every helper here returns at its first line (a module flag), no middleware is
installed and no library is patched, so the cost is one branch per call site.

Context crosses Kafka as a W3C `traceparent` record header (`core.events`, `core.changes`)
and crosses the outbox as a column. A span that handles the work of several upstream
contexts (a projector batch, an outbox relay round, an SSE delivery) links every one of
them; when they are all the same context it also continues that trace as its child, so a
single write reads as one trace. Attribute values are scrubbed of credentials before any
export (`redact`).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

Headers = list[tuple[str, bytes]]
Scope = contextlib.AbstractContextManager
Attribute = str | int | float | bool
NO_HEADERS: Headers = []
TRACEPARENT = "traceparent"
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "cookie",
                     "set-cookie", "x-core-api-key")
REDACTED = "[REDACTED]"

_on = False
_tracer: trace.Tracer = trace.NoOpTracer()
_provider: TracerProvider | None = None
_w3c = TraceContextTextMapPropagator()
NULL_SPAN: contextlib.nullcontext[None] = contextlib.nullcontext()
NULL_HEADERS: contextlib.nullcontext[Headers] = contextlib.nullcontext(NO_HEADERS)


def enabled() -> bool:
    return _on


def wanted(env: dict[str, str] | None = None) -> bool:
    """Whether the environment asks for traces."""
    env = dict(os.environ) if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(env.get(name, "").strip() for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "CORE_OTEL_FILE"))


def setup(role: str) -> bool:
    """Called once by each process (API: `core-api`, worker: `core-worker`, the default
    `service.name` when `OTEL_SERVICE_NAME` is unset). True when traces are on."""
    if _on or not wanted():
        return _on
    configure(environment_exporters(), role)
    return True


def environment_exporters() -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    if os.environ.get("CORE_OTEL_FILE", "").strip():
        exporters.append(JsonLinesExporter(os.environ["CORE_OTEL_FILE"].strip()))
    if any(os.environ.get(n, "").strip() for n in ("OTEL_EXPORTER_OTLP_ENDPOINT",
                                                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        exporters.append(otlp_exporter())
    return exporters


def otlp_exporter() -> SpanExporter:
    """OTLP over HTTP/protobuf (the spec's default), or gRPC when
    `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL=grpc`; endpoint, headers and timeout come from the
    standard `OTEL_EXPORTER_OTLP_*` variables, read by the exporter itself."""
    protocol = (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )
        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def configure(exporters: Sequence[SpanExporter], role: str = "core",
              instrument_libraries: bool = True) -> TracerProvider:
    """Turn traces on with these exporters (tests pass an in-memory one)."""
    global _on, _tracer, _provider
    attributes: dict[str, Any] = {"core.role": role}
    if not os.environ.get("OTEL_SERVICE_NAME", "").strip():
        attributes["service.name"] = role
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(NoOrphanClients())
    provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(Redacting(exporter)))
    if _provider is None:
        trace.set_tracer_provider(provider)
    _provider, _tracer, _on = provider, provider.get_tracer("core"), True
    if instrument_libraries:
        instrument(provider)
    return provider


def instrument(provider: TracerProvider) -> None:
    """asyncpg statements and HTTP client calls become child spans of whatever span is
    current: `httpx`, and `httpx2` (the client the `openai` SDK uses for embedding and chat
    requests) when it is installed."""
    from opentelemetry.instrumentation import httpx as httpx_instrumentation
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentors: list[Any] = [AsyncPGInstrumentor(),  # type: ignore[no-untyped-call]
                                httpx_instrumentation.HTTPXClientInstrumentor()]
    httpx2 = getattr(httpx_instrumentation, "HTTPX2ClientInstrumentor", None)
    if httpx2 is not None and getattr(httpx_instrumentation, "_httpx2_module", None):
        instrumentors.append(httpx2())
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)


def disable() -> None:
    """Back to off (tests, the bench): spans already ended are exported first."""
    global _on, _tracer
    if _provider is not None:
        _provider.shutdown()
    _on, _tracer = False, trace.NoOpTracer()


def flush() -> None:
    if _provider is not None:
        _provider.force_flush()


class NoOrphanClients(Sampler):
    """Root sampler: a database statement or outgoing HTTP call outside any traced work
    (the relay's idle poll, the outcome listener) starts no trace of its own."""

    def should_sample(self, parent_context: Any, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Any = None,
                      links: Any = None, trace_state: Any = None) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                       trace_state)

    def get_description(self) -> str:
        return "NoOrphanClients"


# --- the API edge ---------------------------------------------------------------------

def asgi_middleware() -> list[Any]:
    """The OpenTelemetry ASGI middleware when traces are on; nothing when off."""
    if not _on:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware import Middleware

    return [Middleware(OpenTelemetryMiddleware, excluded_urls="/health$,/ready$,/metrics$",
                       exclude_spans=["receive", "send"], tracer_provider=_provider,
                       http_capture_headers_sanitize_fields=list(SENSITIVE_HEADERS))]


def current_span() -> Any:
    """The span in effect (the request's server span at the edge); None when off."""
    if not _on:
        return None
    span = trace.get_current_span()
    return span if span.is_recording() else None


def name_request(span: Any, method: str, route: str, request_id: str) -> None:
    """Name the server span by the matched route template (known only after dispatch)."""
    if span is None:
        return
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("core.request_id", request_id)


def log_ids(span: Any) -> dict[str, str]:
    """`trace_id` and `span_id` for a JSON log line (nothing when off)."""
    if span is None:
        return {}
    ids = span.get_span_context()
    return {"trace_id": f"{ids.trace_id:032x}", "span_id": f"{ids.span_id:016x}"}


# --- spans around our own work ----------------------------------------------------------

def span(name: str, kind: SpanKind = SpanKind.INTERNAL,
         **attributes: Attribute) -> Scope[Any]:
    """A child of the current span; yields None (and does nothing) when off."""
    return _span(name, kind=kind, **attributes) if _on else NULL_SPAN


@contextlib.contextmanager
def _span(name: str, kind: SpanKind = SpanKind.INTERNAL,
          **attributes: Attribute) -> Iterator[Any]:
    with _tracer.start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current


def client_span(name: str, provider: str, operation: str) -> Scope[Any]:
    """A CLIENT span around one AI provider call (its HTTP request, instrumented through
    httpx, is the child). Outside any traced work it is not sampled."""
    return _client_span(name, provider, operation) if _on else NULL_SPAN


@contextlib.contextmanager
def _client_span(name: str, provider: str, operation: str) -> Iterator[Any]:
    with _tracer.start_as_current_span(
            name, kind=SpanKind.CLIENT,
            attributes={"gen_ai.system": provider, "gen_ai.operation.name": operation}) as current:
        yield current


def producing(topic: str, **attributes: str | int) -> Scope[Headers]:
    """A PRODUCER span around one Kafka send; yields the headers that carry it."""
    return _producing(topic, **attributes) if _on else NULL_HEADERS


@contextlib.contextmanager
def _producing(topic: str, **attributes: str | int) -> Iterator[Headers]:
    with _tracer.start_as_current_span(
            f"{topic} publish", kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.destination.name": topic,
                        "messaging.operation.type": "send", **attributes}):
        yield trace_headers()


def trace_headers() -> Headers:
    """The current context as Kafka record headers (`traceparent`, `tracestate`)."""
    if not _on:
        return NO_HEADERS
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def traceparent() -> str | None:
    """The current context as a `traceparent` string (stored beside outbox rows)."""
    if not _on:
        return None
    carrier: dict[str, str] = {}
    _w3c.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent_value: str | bytes | None) -> SpanContext | None:
    if not traceparent_value:
        return None
    text = traceparent_value.decode("latin-1") if isinstance(traceparent_value, bytes) \
        else traceparent_value
    span_context = trace.get_current_span(_w3c.extract({TRACEPARENT: text})).get_span_context()
    return span_context if span_context.is_valid else None


def header_context(headers: Iterable[tuple[str, bytes]] | None) -> SpanContext | None:
    for name, value in headers or ():
        if name == TRACEPARENT:
            return context_of(value)
    return None


def _linked(name: str, contexts: Iterable[SpanContext | None], kind: SpanKind,
            attributes: dict[str, Any]) -> tuple[Any, Any]:
    """A started span linking every distinct context; the child of the one context when
    there is exactly one, else of whatever is current."""
    distinct = list({(c.trace_id, c.span_id): c for c in contexts if c is not None}.values())
    parent = None
    if len(distinct) == 1:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(distinct[0]),
                                           otel_context.Context())
    links = [Link(c) for c in distinct]
    attributes = {**attributes, "core.linked": len(distinct)}
    return _tracer.start_span(name, context=parent, kind=kind, links=links,
                              attributes=attributes), parent


def linked_span(name: str, contexts: Iterable[SpanContext | None],
                kind: SpanKind = SpanKind.CONSUMER,
                **attributes: Attribute) -> Scope[Any]:
    """A current span over work that came from `contexts` (see the module doc)."""
    return _linked_span(name, contexts, kind=kind, **attributes) if _on else NULL_SPAN


@contextlib.contextmanager
def _linked_span(name: str, contexts: Iterable[SpanContext | None],
                kind: SpanKind = SpanKind.CONSUMER,
                **attributes: Attribute) -> Iterator[Any]:
    started, _parent = _linked(name, contexts, kind, attributes)
    with trace.use_span(started, end_on_exit=True):
        yield started


def start_linked(name: str, contexts: Iterable[SpanContext | None],
                 **attributes: Attribute) -> Any:
    """Like `linked_span` but not made current (for a span that ends across a `yield`);
    end it with `end`. None when off."""
    if not _on:
        return None
    started, _parent = _linked(name, contexts, SpanKind.CONSUMER, attributes)
    return started


def end(started: Any) -> None:
    if started is not None:
        started.end()


# --- the three consumers of a write: projector batch, outbox relay, SSE delivery ---------

def projector_batch(records: Sequence[Any]) -> Scope[Any]:
    """The projector's span over one delivered batch (records with `.headers`), linked to
    each event's producer context; current while the batch applies, so its Postgres
    statements are children and the outbox rows it writes carry it."""
    return _projector_batch(records) if _on else NULL_SPAN


@contextlib.contextmanager
def _projector_batch(records: Sequence[Any]) -> Iterator[Any]:
    contexts = [header_context(r.headers) for r in records]
    attributes: dict[str, Attribute] = {
        "messaging.system": "kafka", "messaging.operation.type": "process",
        "messaging.batch.message_count": len(records)}
    with linked_span("core.events process", contexts, SpanKind.CONSUMER,
                     **attributes) as current:
        yield current


def relay_span(topic: str, traceparents: Sequence[str | None]) -> Scope[Headers]:
    """The outbox relay's span over the rows it publishes, linked to the projector batches
    that wrote them; yields the headers that carry it on each `core.changes` record."""
    return _relay_span(topic, traceparents) if _on else NULL_HEADERS


@contextlib.contextmanager
def _relay_span(topic: str, traceparents: Sequence[str | None]) -> Iterator[Headers]:
    attributes: dict[str, Attribute] = {
        "messaging.system": "kafka", "messaging.destination.name": topic,
        "messaging.operation.type": "send", "messaging.batch.message_count": len(traceparents)}
    with linked_span(f"{topic} publish", [context_of(t) for t in traceparents],
                     SpanKind.PRODUCER, **attributes):
        yield trace_headers()


def sse_delivery(items: Sequence[Any]) -> Any:
    """A started span for one SSE write of several frames (queued deliveries with
    `.trace`), linked to the relay spans that published them; not current, since it ends
    after the frames leave through the stream's `yield`. None when off."""
    if not _on:
        return None
    contexts = [getattr(item, "trace", None) for item in items]
    return start_linked("sse deliver", contexts, **{"core.frames": len(items)})


# --- nothing secret leaves the process ---------------------------------------------------

SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:access_token|id_token|refresh_token|token|api[_-]?key|key|secret|"
    r"password|passwd|sig|signature|jwt|auth|authorization|code)=)[^&#;\s]*")
BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://)[^/@\s:]+(:[^/@\s]*)?@")


SECRET_KEY = re.compile(
    r"(?i)(authorization|x[-_]api[-_]key|x[-_]core[-_]api[-_]key|cookie|token)$|api[-_]?key|"
    r"password|secret")


def redact_value(value: Any) -> Any:
    if isinstance(value, str):
        if "=" in value:
            value = SECRET_QUERY.sub(r"\1" + REDACTED, value)
        if " " in value:
            value = BEARER.sub(r"\1 " + REDACTED, value)
        if "@" in value:
            value = URL_CREDENTIALS.sub(r"\1" + REDACTED + "@", value)
        return value
    if isinstance(value, tuple | list):
        return tuple(redact_value(v) for v in value)
    return value


def redact_attributes(attributes: Any) -> dict[str, Any]:
    return {key: REDACTED if SECRET_KEY.search(key) else redact_value(value)
            for key, value in (attributes or {}).items()}


def redact(span_data: ReadableSpan) -> ReadableSpan:
    """The span itself when it holds nothing to scrub (the common case), else a copy."""
    from opentelemetry.sdk.trace import Event

    attributes = redact_attributes(span_data.attributes)
    event_attributes = [redact_attributes(e.attributes) for e in span_data.events]
    if attributes == dict(span_data.attributes or {}) and redact_value(span_data.name) == \
            span_data.name and all(clean == dict(e.attributes or {}) for clean, e
                                   in zip(event_attributes, span_data.events, strict=True)):
        return span_data
    events = [Event(e.name, clean, e.timestamp)
              for clean, e in zip(event_attributes, span_data.events, strict=True)]
    return ReadableSpan(
        name=redact_value(span_data.name), context=span_data.context, parent=span_data.parent,
        resource=span_data.resource, attributes=attributes,
        events=events, links=span_data.links, kind=span_data.kind, status=span_data.status,
        start_time=span_data.start_time, end_time=span_data.end_time,
        instrumentation_scope=span_data.instrumentation_scope)


class Redacting(SpanExporter):
    """Wraps an exporter: every span is scrubbed of credentials before it leaves."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact(s) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class JsonLinesExporter(SpanExporter):
    """`CORE_OTEL_FILE`: one JSON object per span per line, appended with one write each,
    so several processes may share the file."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for item in spans:
            os.write(self.fd, (item.to_json(indent=None) + "\n").encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
