"""OpenTelemetry tracing in one process, with the SDK's in-memory exporter: off by default,
the parent/child/link structure of one write's spans, and no secret in any exported span."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.telemetry.http import RequestTelemetry
from kernel.ai.llm import no_op_on_call, observe
from kernel.routing import ROUTE_TEMPLATE
from kernel.telemetry import tracing

pytestmark = pytest.mark.unit
SECRET = "s3cr3t-value-0123456789"


@dataclass
class FakeRecord:
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class FakeDelivery:
    trace: Any


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.configure([exporter], "core-test", instrument_libraries=False)
    try:
        yield exporter
    finally:
        tracing.disable()


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing.flush()
    return list(exporter.get_finished_spans())


def by_name(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_off_by_default_costs_nothing_and_installs_nothing() -> None:
    assert not tracing.enabled()
    assert tracing.asgi_middleware() == []
    assert tracing.trace_headers() == []
    assert tracing.traceparent() is None
    assert tracing.current_span() is None
    assert tracing.sse_delivery([FakeDelivery(None)]) is None
    with tracing.producing("t.events") as headers:
        assert headers == []
    with tracing.projector_batch([FakeRecord(())]) as batch:
        assert batch is None
    with tracing.relay_span("t.changes", [None]) as relay_headers:
        assert relay_headers == []


def test_the_environment_turns_traces_on() -> None:
    assert not tracing.wanted({})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert tracing.wanted({"CORE_OTEL_FILE": "/tmp/spans.jsonl"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                               "OTEL_SDK_DISABLED": "true"})


def api_app(produced: dict[str, Any]) -> Starlette:
    """A write route as the real one runs it: an AI call, then a produce."""

    async def write(request: Request) -> Response:
        request.scope[ROUTE_TEMPLATE] = "/api/v1/memories"

        async def embedding() -> list[float]:
            return [0.1]

        await observe(no_op_on_call, "openai", "embed", 1.0, embedding)
        with tracing.producing("t.events", **{"core.event_id": "ev-1"}) as headers:
            produced["headers"] = headers
        return JSONResponse({"ok": True}, status_code=201)

    return Starlette(routes=[Route("/api/v1/memories", write, methods=["POST", "GET"])],
                     middleware=[*tracing.asgi_middleware(), Middleware(RequestTelemetry)])


async def call(app: Starlette, method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        return await client.request(method, url, **kwargs)


async def test_one_write_is_one_trace_from_request_to_sse_delivery(
        spans: InMemorySpanExporter) -> None:
    produced: dict[str, Any] = {}
    response = await call(api_app(produced), "POST", "/api/v1/memories", json={})
    assert response.status_code == 201
    headers = produced["headers"]
    assert [name for name, _ in headers] == ["traceparent"]

    # the worker: the batch span over the delivered record, which stores its context
    with tracing.projector_batch([FakeRecord(tuple(headers))]):
        stored = tracing.traceparent()
    # the relay publishes the outbox row; the tailer reads its header; SSE delivers
    with tracing.relay_span("t.changes", [stored]) as change_headers:
        pass
    delivery = tracing.sse_delivery([FakeDelivery(tracing.header_context(change_headers))])
    tracing.end(delivery)

    done = finished(spans)
    server = by_name(done, "POST /api/v1/memories")
    embed = by_name(done, "openai embed")
    publish = by_name(done, "t.events publish")
    batch = by_name(done, "core.events process")
    relay = by_name(done, "t.changes publish")
    deliver = by_name(done, "sse deliver")
    assert server.kind is SpanKind.SERVER and server.parent is None
    assert tracing.log_ids(server) == {"trace_id": f"{server.context.trace_id:032x}",
                                       "span_id": f"{server.context.span_id:016x}"}
    assert tracing.log_ids(None) == {}
    assert server.attributes is not None and server.attributes["http.route"] == \
        "/api/v1/memories"
    assert embed.kind is SpanKind.CLIENT and publish.kind is SpanKind.PRODUCER
    assert batch.kind is SpanKind.CONSUMER
    for child, parent in ((embed, server), (publish, server), (batch, publish),
                          (relay, batch), (deliver, relay)):
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == server.context.trace_id
    for linker, linked in ((batch, publish), (relay, batch), (deliver, relay)):
        assert [link.context.span_id for link in linker.links] == [linked.context.span_id]


async def test_a_batch_of_several_writes_links_each_and_starts_its_own_trace(
        spans: InMemorySpanExporter) -> None:
    produced: list[list[tuple[str, bytes]]] = []
    for _ in range(2):
        with tracing.producing("t.events") as headers:
            produced.append(headers)
    with tracing.projector_batch([FakeRecord(tuple(h)) for h in produced]
                                 + [FakeRecord(())]):
        pass
    done = finished(spans)
    publishes = [s for s in done if s.name == "t.events publish"]
    batch = by_name(done, "core.events process")
    assert batch.parent is None
    assert {link.context.span_id for link in batch.links} == \
        {p.context.span_id for p in publishes}
    assert batch.context.trace_id not in {p.context.trace_id for p in publishes}
    assert batch.attributes is not None
    assert batch.attributes["messaging.batch.message_count"] == 3


async def test_an_ai_call_outside_traced_work_starts_no_trace(
        spans: InMemorySpanExporter) -> None:
    async def embedding() -> list[float]:
        return []

    await observe(no_op_on_call, "openai", "embed", 1.0, embedding)
    assert finished(spans) == []


async def test_no_secret_becomes_an_attribute(spans: InMemorySpanExporter,
                                              monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    # even when an operator asks the ASGI instrumentation to capture every request header
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", ".*")
    file_exporter = tracing.JsonLinesExporter(str(tmp_path / "spans.jsonl"))
    app = api_app({})
    await call(app, "GET", f"/api/v1/memories?subject_id=u1&access_token={SECRET}",
               headers={"x-api-key": SECRET, "authorization": f"Bearer {SECRET}",
                        "cookie": f"session={SECRET}"})
    await call(app, "GET", f"/api/v1/memories?api_key={SECRET}&token={SECRET}")
    with tracing.span("db", **{"db.statement": f"postgresql://core:{SECRET}@db/core",
                               "http.url": f"https://llm/v1?key={SECRET}"}):
        pass
    done = finished(spans)
    assert done
    file_exporter.export(done)  # what the exporters got: already scrubbed
    file_exporter.shutdown()
    text = (tmp_path / "spans.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(done)
    assert SECRET not in text
    assert "subject_id=u1" in text  # what is not secret stays readable
    assert any("http.request.header.x_api_key" in line["attributes"] for line in lines)


def test_redaction_of_values_and_keys() -> None:
    clean = tracing.redact_attributes({
        "url.full": f"http://h/p?access_token={SECRET}&q=1",
        "http.request.header.authorization": (f"Bearer {SECRET}",),
        "core.idempotency": "fine",
        "gen_ai.request.api_key": SECRET,
        "note": f"bearer {SECRET}",
    })
    assert SECRET not in json.dumps(clean)
    assert clean["core.idempotency"] == "fine"
    assert clean["url.full"].endswith("&q=1")


class Collector:
    """A minimal OTLP/HTTP receiver: decodes each POST /v1/traces body (protobuf)."""

    def __init__(self) -> None:
        import http.server
        import threading

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.names: list[str] = []
        self.bodies: list[bytes] = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                request = ExportTraceServiceRequest.FromString(body)
                collector.bodies.append(body)
                collector.names += [s.name for r in request.resource_spans
                                    for scope in r.scope_spans for s in scope.spans]
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_standard_variables_export_otlp_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = Collector()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
        exporters = tracing.environment_exporters()
        assert [type(e).__module__ for e in exporters] == \
            ["opentelemetry.exporter.otlp.proto.http.trace_exporter"]
        tracing.configure(exporters, "core-test", instrument_libraries=False)
        try:
            with tracing.span("otlp check", **{"http.url": f"/x?access_token={SECRET}"}):
                pass
        finally:
            tracing.disable()
        assert "otlp check" in collector.names
        assert all(SECRET.encode() not in body for body in collector.bodies)
    finally:
        collector.close()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert type(tracing.otlp_exporter()).__module__ == \
        "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"
