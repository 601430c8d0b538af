"""ASGI middleware: request id, request metrics and one JSON log line per request.

The dispatcher puts the matched route template and the resolved project in the ASGI scope
(`kernel.routing.ROUTE_TEMPLATE`, `PROJECT`); labels use the template, never the raw path.
Latency is measured to the response headers (for SSE: the stream's start); the log line is
written when the response ends, with the full duration.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.ids import random_hex
from kernel.metrics import HTTP_REQUESTS, HTTP_SECONDS
from kernel.routing import PROJECT, REQUEST_ID_KEY, ROUTE_TEMPLATE
from kernel.telemetry.logs import json_logger, log_fields
from kernel.telemetry.tracing import current_span, log_ids, name_request

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNMATCHED = "unmatched"


def request_id(scope: Scope) -> str:
    """The caller's `x-request-id` when it is a sane token, otherwise a fresh one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if REQUEST_ID.match(text) else random_hex()
    return random_hex()


class RequestTelemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = json_logger("core.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = Exchange(scope, request_id(scope))
        scope[REQUEST_ID_KEY] = exchange.rid  # quoted by a 500 answer (kernel.routing)
        try:
            await self.app(scope, receive, exchange.wrap(send))
        finally:
            exchange.finish(self.log)


class Exchange:
    """One request in flight: its id, its start time, its status once known."""

    def __init__(self, scope: Scope, rid: str) -> None:
        self.scope, self.rid = scope, rid
        self.started = time.perf_counter()
        self.status = 500
        self.observed = False
        self.span = current_span()  # the OpenTelemetry server span; None when traces are off

    def wrap(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", self.rid.encode()))
                message = {**message, "headers": headers}
                self.observe()
            await send(message)

        return sending

    def labels(self) -> tuple[str, str, str]:
        route = self.scope.get(ROUTE_TEMPLATE) or UNMATCHED
        return route, self.scope["method"], str(self.status)

    def observe(self) -> None:
        self.observed = True
        labels = self.labels()
        name_request(self.span, labels[1], labels[0], self.rid)
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - self.started)

    def finish(self, log: Any) -> None:
        if not self.observed:
            self.observe()
        route, method, status = self.labels()
        trace_ids: dict[str, Any] = log_ids(self.span)  # empty when traces are off
        log_fields(log, "request", request_id=self.rid, project=self.scope.get(PROJECT),
                   route=route, method=method, status=int(status),
                   duration_ms=round((time.perf_counter() - self.started) * 1000, 2),
                   **trace_ids)
