"""One write is one trace across the API and worker processes (real Kafka, real Postgres).

The system's processes export their spans as JSON lines to one file (`CORE_OTEL_FILE`);
the test follows a write from its HTTP span through the embedding call and the produce, the
projector's batch span in the worker (linked to the event through the `traceparent` record
header), the outbox relay, and the SSE delivery in the API, and checks that no credential
reached any span.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.openai_stub import OpenAIStub
from tests.support.sse_reader import open_stream
from tests.support.system import Infra, System, start_system
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
OPENAI_KEY = "sk-test-key-must-never-be-traced"
Span = dict[str, Any]


@pytest.fixture(scope="module")
async def traced(infra: Infra, stub: OpenAIStub,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[System, Path]]:
    spans = tmp_path_factory.mktemp("otel") / "spans.jsonl"
    system = await start_system(infra, env={
        "CORE_OTEL_FILE": str(spans), "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": stub.base_url,
        "CORE_AI_MODE": "openai"})
    try:
        yield system, spans
    finally:
        system.stop()


def read_spans(path: Path) -> list[Span]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def one(spans: list[Span], name: str, **attributes: Any) -> Span | None:
    found = [s for s in spans if s["name"] == name
             and all(s["attributes"].get(k) == v for k, v in attributes.items())]
    assert len(found) <= 1, found
    return found[0] if found else None


def is_child(child: Span, parent: Span) -> bool:
    return bool(child["parent_id"] == parent["context"]["span_id"]
                and child["context"]["trace_id"] == parent["context"]["trace_id"])


def links_to(span: Span, target: Span) -> bool:
    return any(link["context"]["span_id"] == target["context"]["span_id"]
               for link in span["links"])


def service(span: Span) -> str:
    return str(span["resource"]["attributes"]["service.name"])


async def test_a_write_is_one_trace_across_api_and_worker(
        traced: tuple[System, Path]) -> None:
    system, path = traced
    project = f"otel-{uuid.uuid4().hex[:8]}"
    async with open_stream(system, project, subject="u1") as stream:
        assert (await stream.event()).event == "connected"
        async with system.client() as client:
            response = await client.post(
                "/api/v1/memories", headers={"x-project-id": project},
                json={"subject_id": "u1", "text": "I live in Austin"})
        assert response.status_code == 201, response.text
        event_id = response.headers.get("location", "").rsplit("/", 1)[-1] or None
        created = await stream.event()
        assert created.event == "memory.created"

    def write_spans() -> dict[str, Span] | None:
        spans = read_spans(path)
        server = one(spans, "POST /api/v1/memories",
                     **{"core.request_id": response.headers["x-request-id"]})
        if server is None:
            return None
        trace = server["context"]["trace_id"]
        mine = [s for s in spans if s["context"]["trace_id"] == trace]
        found = {"server": server,
                 "embed": one(mine, "openai embed"),
                 "publish": next((s for s in mine if s["name"].endswith(".events publish")),
                                 None),
                 "batch": one(mine, "core.events process"),
                 "relay": next((s for s in mine if s["name"].endswith(".changes publish")),
                               None),
                 "deliver": one(mine, "sse deliver")}
        return found if all(found.values()) else None  # type: ignore[return-value]

    found = await wait_until(write_spans, "every span of the write in the file", timeout=30)
    server, embed, publish = found["server"], found["embed"], found["publish"]
    batch, relay, deliver = found["batch"], found["relay"], found["deliver"]
    assert event_id is None or publish["attributes"]["core.event_id"] == event_id
    assert service(server) == service(embed) == service(publish) == "core-api"
    assert service(batch) == service(relay) == "core-worker"
    assert service(deliver) == "core-api"
    assert server["kind"] == "SpanKind.SERVER"
    assert is_child(embed, server) and is_child(publish, server)
    assert batch["kind"] == "SpanKind.CONSUMER"
    assert is_child(batch, publish) and links_to(batch, publish)
    assert is_child(relay, batch) and links_to(relay, batch)
    assert is_child(deliver, relay) and links_to(deliver, relay)
    spans = read_spans(path)
    # the embedding's HTTP request (httpx instrumentation) and the batch's SQL are children
    assert any(is_child(s, embed) and s["kind"] == "SpanKind.CLIENT" for s in spans)
    assert any(is_child(s, batch) and "db.system" in s["attributes"] for s in spans)


async def test_no_credential_reaches_a_span(traced: tuple[System, Path]) -> None:
    system, path = traced
    async with system.client() as client:
        response = await client.get(
            "/api/v1/memories", params={"subject_id": "u1", "access_token": system.api_key},
            headers={"x-project-id": "otel-secrets",
                     "authorization": f"Bearer {system.api_key}"})
    assert response.status_code == 200
    rid = response.headers["x-request-id"]
    await wait_until(lambda: one(read_spans(path), "GET /api/v1/memories",
                                 **{"core.request_id": rid}),
                     "the read's span in the file", timeout=30)
    text = path.read_text()
    assert system.api_key not in text
    assert OPENAI_KEY not in text
