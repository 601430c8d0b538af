"""The API's operations routes, public (no credentials): `GET /metrics` (Prometheus text) and
`GET /ready` (readiness). Pool and SSE gauges are sampled when Prometheus scrapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import generate_latest
from starlette.responses import Response

from core.readiness import Readiness, ready_body
from kernel.http import json_response
from kernel.metrics import SSE_SUBSCRIBERS
from kernel.routing import PUBLIC, Call, RouteSpec
from kernel.settings import Settings
from kernel.telemetry.db import sample_pool
from kernel.telemetry.kafka import LogEnds

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class Operations:
    def __init__(self, settings: Settings, pool: Any,
                 sse_subscribers: Callable[[], int] = lambda: 0) -> None:
        self.pool = pool
        self.sse_subscribers = sse_subscribers
        ends = LogEnds(settings.resolved_bootstrap(), settings.events_topic)
        self.readiness = Readiness(pool, ends, settings.worker_group, settings.ready_max_lag,
                                   settings.ready_max_outbox_age_s)

    def routes(self) -> list[RouteSpec]:
        return [RouteSpec("GET", "/metrics", self.metrics, PUBLIC),
                RouteSpec("GET", "/ready", self.ready, PUBLIC)]

    async def metrics(self, _call: Call) -> Response:
        sample_pool("api", self.pool)
        SSE_SUBSCRIBERS.set(self.sse_subscribers())
        return Response(generate_latest(), media_type=PROMETHEUS_TEXT)

    async def ready(self, _call: Call) -> Response:
        status, body = ready_body(*await self.readiness.check())
        return json_response(status, body)

    async def close(self) -> None:
        await self.readiness.ends.close()
