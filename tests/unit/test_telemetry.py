"""Pure pieces of the operations kernel, and the request middleware in-process (Starlette
test client around the real dispatcher)."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from core.backup import libpq_target
from core.event_archive import decode_bytes, encode_bytes
from core.readiness import ready_body
from core.telemetry.http import RequestTelemetry, request_id
from kernel.http import json_response
from kernel.routing import PUBLIC, Call, Dispatcher, RouteSpec
from kernel.telemetry.db import sql_verb
from kernel.telemetry.lag import lag_by_partition
from projections.maintenance import needs_analyze

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("query", "verb"), [
    ("SELECT 1", "select"), ("  \n insert INTO x", "insert"), ("WITH a AS (...)", "with"),
    ("BEGIN ISOLATION LEVEL READ COMMITTED;", "begin"), ("vacuum", "other"), ("", "other"),
    ("COMMIT;", "commit")])
def test_sql_verb_is_bounded(query: str, verb: str) -> None:
    assert sql_verb(query) == verb


def test_request_id_accepts_sane_tokens_only() -> None:
    def scope(value: bytes) -> dict[str, object]:
        return {"headers": [(b"x-request-id", value)]}

    assert request_id(scope(b"abc-123.X:y_z")) == "abc-123.X:y_z"
    for bad in (b"", b"has space", b"x" * 129, b"\xff\xfe"):
        assert len(generated := request_id(scope(bad))) == 32 and generated != bad.decode("latin-1")
    assert len(request_id({"headers": []})) == 32


def test_lag_per_partition_never_negative() -> None:
    assert lag_by_partition({0: 10, 1: 5, 2: 0}, {0: 4, 1: 7}) == {0: 6, 1: 0, 2: 0}


@pytest.mark.parametrize(("live", "modified", "growth", "due"), [
    (150, 150, 0.2, True),       # first load of an empty table
    (50, 50, 0.2, False),        # too small to matter
    (12_000, 2_000, 0.2, True),  # 10 000 → 12 000 rows: grew by 20 %
    (11_000, 1_000, 0.2, False),  # grew by 10 %
    (11_000, 1_000, 0.05, True),
])
def test_needs_analyze(live: int, modified: int, growth: float, due: bool) -> None:
    assert needs_analyze(live, modified, growth) is due


def test_ready_body_names_failing_checks() -> None:
    checks = {"postgres": {"ok": True}, "kafka": {"ok": False, "error": "x"},
              "projector": {"ok": False}}
    assert ready_body(False, checks) == (503, {"ready": False, "failing": ["kafka", "projector"],
                                               "checks": checks})
    assert ready_body(True, {"postgres": {"ok": True}})[0] == 200


def test_password_stays_out_of_argv() -> None:
    assert libpq_target("postgresql://core:s%40cret@db:5432/core") == (
        "postgresql://core@db:5432/core", {"PGPASSWORD": "s@cret"})
    assert libpq_target("postgresql://postgres@127.0.0.1:5/x") == (
        "postgresql://postgres@127.0.0.1:5/x", {})


@pytest.mark.parametrize("raw", [None, b"", b"plain \xc3\xa9 text", b"\x00\xff\xfe binary"])
def test_archive_bytes_round_trip(raw: bytes | None) -> None:
    assert decode_bytes(encode_bytes(raw)) == raw


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_middleware_labels_by_template_and_echoes_the_request_id(
        caplog: pytest.LogCaptureFixture) -> None:
    async def show(call: Call) -> Response:
        return json_response(200, {"id": call.params["id"]})

    dispatcher = Dispatcher([RouteSpec("GET", "/things/{id}", show, PUBLIC)], "p")

    async def endpoint(request: Request) -> Response:
        return await dispatcher(request)

    app = Starlette(routes=[Route("/{path:path}", endpoint)],
                    middleware=[Middleware(RequestTelemetry)])
    labels = {"route": "/things/{id}", "method": "GET", "status": "200"}
    before = sample("core_http_requests_total", **labels)
    access = logging.getLogger("core.access")
    access.addHandler(caplog.handler)
    try:
        with TestClient(app) as client:
            response = client.get("/things/abc", headers={"x-request-id": "r-1"})
            missing = client.get("/nothing")
    finally:
        access.removeHandler(caplog.handler)
    assert response.headers["x-request-id"] == "r-1"
    assert sample("core_http_requests_total", **labels) == before + 1
    assert sample("core_http_requests_total", route="unmatched", method="GET",
                  status="404") >= 1
    assert missing.headers["x-request-id"]
    fields = [getattr(r, "fields", {}) for r in caplog.records if r.name == "core.access"]
    expected = {"request_id": "r-1", "route": "/things/{id}", "status": 200, "method": "GET",
                "project": None}
    assert expected.items() <= fields[0].items() and fields[0]["duration_ms"] >= 0
