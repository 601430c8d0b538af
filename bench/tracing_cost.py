"""`python -m bench tracing`: CPU cost of OpenTelemetry tracing per write, off and on.

In one process, without Kafka or Postgres, it times (process CPU time):
* `hooks`: every tracing call one write makes on its way (edge span naming, the AI call
  span, the produce span and its headers, the projector batch span, the outbox
  traceparent, the relay span and its headers, the tailer's header read, the SSE delivery
  span), first with traces off, then on (real SDK, batch processor, a discarding exporter);
* `http`: a write-shaped request through Starlette with the edge telemetry middleware,
  without and with the OpenTelemetry ASGI middleware (what `core serve` installs when on).

The per-write figures are set against `--write-cpu-ms` (the measured CPU of one write
across API, worker, Postgres and Kafka, see docs/bench.md) as a percentage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.telemetry.http import RequestTelemetry
from kernel.routing import ROUTE_TEMPLATE
from kernel.telemetry import tracing


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


@dataclass
class Record:
    headers: tuple[tuple[str, bytes], ...]


@dataclass
class Delivery:
    trace: Any


def one_write() -> None:
    """The tracing calls of one write, in the order the processes make them."""
    edge = tracing.current_span()
    with tracing.client_span("openai embed", "openai", "embed"):
        pass
    with tracing.producing("core.events", **{"core.event_id": "e"}) as headers:
        record_headers = [("type", b"memory.created"), ("v", b"1"), ("event_id", b"e")] + headers
    record = Record(tuple(record_headers) if tracing.enabled() else ())
    with tracing.projector_batch([record]):
        stored = tracing.traceparent()
    with tracing.relay_span("core.changes", [stored]) as change_headers:
        pass
    trace = tracing.header_context(change_headers) if tracing.enabled() else None
    tracing.end(tracing.sse_delivery([Delivery(trace)]))
    tracing.name_request(edge, "POST", "/api/v1/memories", "rid")


def cpu_per_call(fn: Callable[[], None], n: int) -> float:
    """Microseconds of process CPU per call (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def app() -> Starlette:
    async def write(request: Request) -> Response:
        request.scope[ROUTE_TEMPLATE] = "/api/v1/memories"
        await request.body()
        return JSONResponse({"id": "m", "created": True}, status_code=201)

    return Starlette(routes=[Route("/api/v1/memories", write, methods=["POST"])],
                     middleware=[*tracing.asgi_middleware(), Middleware(RequestTelemetry)])


async def http_cpu(n: int) -> float:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        for _ in range(50):  # warm up
            await client.post("/api/v1/memories", json={"subject_id": "u", "text": "t"})
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(n):
                await client.post("/api/v1/memories", json={"subject_id": "u", "text": "t"})
            best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def measure(n_hooks: int, n_http: int) -> dict[str, float]:
    import logging

    logging.getLogger("core.access").disabled = True  # one JSON line per request otherwise
    assert not tracing.enabled(), "unset OTEL_EXPORTER_OTLP_ENDPOINT / CORE_OTEL_FILE first"
    figures = {"hooks_off_us": cpu_per_call(one_write, n_hooks),
               "http_off_us": asyncio.run(http_cpu(n_http))}
    tracing.configure([Discard()], "bench", instrument_libraries=False)
    try:
        figures["hooks_on_us"] = cpu_per_call(one_write, max(n_hooks // 20, 200))
        figures["http_on_us"] = asyncio.run(http_cpu(n_http))
    finally:
        tracing.disable()
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench tracing",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--hooks", type=int, default=100_000, help="iterations of the hooks")
    parser.add_argument("--requests", type=int, default=1000, help="requests per HTTP round")
    parser.add_argument("--write-cpu-ms", type=float, default=2.2,
                        help="CPU of one write, end to end (docs/bench.md)")
    parser.add_argument("--json", action="store_true", help="one JSON line only")
    args = parser.parse_args(argv)
    figures = measure(args.hooks, args.requests)
    budget_us = args.write_cpu_ms * 1000
    off_us = figures["hooks_off_us"]
    on_us = figures["hooks_on_us"] + max(figures["http_on_us"] - figures["http_off_us"], 0)
    summary = {**{k: round(v, 3) for k, v in figures.items()},
               "off_percent_of_write": round(off_us / budget_us * 100, 4),
               "on_percent_of_write": round(on_us / budget_us * 100, 2),
               "write_cpu_ms": args.write_cpu_ms}
    if not args.json:
        print(f"traces off: {off_us:.2f} µs CPU per write in the hooks "
              f"({summary['off_percent_of_write']}% of {args.write_cpu_ms} ms); no middleware")
        print(f"traces on:  {figures['hooks_on_us']:.1f} µs in our spans + "
              f"{figures['http_on_us'] - figures['http_off_us']:.1f} µs in the ASGI middleware "
              f"per write ({summary['on_percent_of_write']}%), before Postgres statement "
              "spans and export")
    print(json.dumps(summary))
    return 0
