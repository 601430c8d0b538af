"""Poison refused at the edge, over HTTP against the real system (docs/security.md, "Input
limits"): over-long identifiers and NUL characters are 400s and nothing is produced; query
numbers out of any range are never 500s; an unexpected error names a request id, not its
cause; a chunked body is cut off at the limit; adversarial extraction text stays linear."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from kernel.ids import uuid7
from kernel.input_limits import MAX_ID_BYTES
from tests.support.system import System

pytestmark = pytest.mark.integration
LONG = "x" * (MAX_ID_BYTES + 1)
WIDE = "é" * 128  # 128 characters, 256 UTF-8 bytes


def project() -> dict[str, str]:
    return {"x-project-id": f"edge-{uuid.uuid4().hex[:8]}"}


def refused(response: httpx.Response, code: str, field: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == code, body
    if field is not None:
        assert body["field"] == field


async def memories_of(api: httpx.AsyncClient, headers: dict[str, str], subject: str) -> Any:
    response = await api.get("/api/v1/memories", headers=headers,
                             params={"subject_id": subject, "include_deleted": "true",
                                     "limit": "200"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


# --- identifiers and NUL in write bodies ---------------------------------------------------

MEMORY_CASES = [
    ({"subject_id": LONG}, "subject_id_too_long", None),
    ({"subject_id": WIDE}, "subject_id_too_long", None),
    ({"id": "mem_" + LONG}, "id_too_long", None),
    ({"text": "I like\u0000 tea"}, "invalid_character", "text"),
    ({"tags": ["ok", "b\u0000d"]}, "invalid_character", "tags"),
    ({"metadata": {"a": {"b": ["deep\u0000"]}}}, "invalid_character", "metadata"),
    ({"metadata": {"key\u0000": 1}}, "invalid_character", "metadata"),
    ({"source_type": "\u0000"}, "invalid_character", "source_type"),
]


@pytest.mark.parametrize(("fields", "code", "field"), MEMORY_CASES)
async def test_create_memory_refuses_poison_and_produces_nothing(
        api: httpx.AsyncClient, fields: dict[str, Any], code: str, field: str | None) -> None:
    headers, memory_id = project(), f"mem_{uuid.uuid4()}"
    body = {"subject_id": "u1", "text": "I like tea", "id": memory_id, **fields}
    refused(await api.post("/api/v1/memories", headers=headers, json=body), code, field)
    assert await memories_of(api, headers, "u1") == []
    lookup = await api.get(f"/api/v1/memories/{memory_id}", headers=headers)
    assert lookup.status_code == 404


CLAIM_CASES = [
    ({"subject_id": LONG}, "subject_id_too_long", None),
    ({"predicate": LONG}, "predicate_too_long", None),
    ({"slot": WIDE}, "slot_too_long", None),
    ({"claim_id": "clm_" + LONG}, "claim_id_too_long", None),
    ({"source_memory_id": LONG}, "source_memory_id_too_long", None),
    ({"object_value": "Oslo\u0000"}, "invalid_character", "object_value"),
    ({"tags": ["\u0000"]}, "invalid_character", "tags"),
]


@pytest.mark.parametrize(("fields", "code", "field"), CLAIM_CASES)
async def test_assert_claim_refuses_poison_and_produces_nothing(
        api: httpx.AsyncClient, fields: dict[str, Any], code: str, field: str | None) -> None:
    headers, claim_id = project(), f"clm_{uuid.uuid4()}"
    body = {"subject_id": "u1", "predicate": "lives_in", "object_value": "Oslo",
            "claim_id": claim_id, **fields}
    refused(await api.post("/api/v1/claims", headers=headers, json=body), code, field)
    assert (await api.get(f"/api/v1/claims/{claim_id}", headers=headers)).status_code == 404
    truth = await api.get("/api/v1/claims/subject/u1/truth", headers=headers)
    assert truth.json()["slots"] == []


async def test_patch_and_retract_refuse_nul_and_change_nothing(api: httpx.AsyncClient) -> None:
    headers = project()
    created = await api.post("/api/v1/memories", headers=headers, json={
        "subject_id": "u1", "text": "I like tea", "extract_claims": False})
    memory_id = created.json()["id"]
    for patch, field in [({"text": "x\u0000"}, "text"), ({"metadata": {"k": "\u0000"}}, "metadata"),
                         ({"tags": ["\u0000"]}, "tags")]:
        refused(await api.patch(f"/api/v1/memories/{memory_id}", headers=headers, json=patch),
                "invalid_character", field)
    memory = (await api.get(f"/api/v1/memories/{memory_id}", headers=headers)).json()["data"]
    assert (memory["text"], memory["metadata"], memory["tags"]) == ("I like tea", {}, [])
    claim = await api.post("/api/v1/claims", headers=headers, json={
        "subject_id": "u1", "predicate": "lives_in", "object_value": "Oslo"})
    claim_id = claim.json()["claim_id"]
    refused(await api.post(f"/api/v1/claims/{claim_id}/retract", headers=headers,
                           json={"reason": "because\u0000"}), "invalid_character", "reason")
    after = (await api.get(f"/api/v1/claims/{claim_id}", headers=headers)).json()
    assert after["claim"]["status"] == "active"


@pytest.mark.parametrize(("fields", "code", "field"), [
    ({"subject_id": LONG}, "subject_id_too_long", None),
    ({"text": "My name is Bob\u0000"}, "invalid_character", "text"),
    ({"conversation_context": ["fine", "\u0000"]}, "invalid_character", "conversation_context"),
])
async def test_extract_refuses_poison_and_learns_nothing(
        api: httpx.AsyncClient, fields: dict[str, Any], code: str, field: str | None) -> None:
    headers = project()
    body = {"subject_id": "u1", "text": "My name is Bob", "learn": True, **fields}
    refused(await api.post("/api/v1/memories/extract", headers=headers, json=body), code, field)
    assert await memories_of(api, headers, "u1") == []


async def test_extracted_predicates_over_the_limit_are_not_learned(
        api: httpx.AsyncClient) -> None:
    headers = project()
    text = f"My favorite {'a' * 300} is tea. My name is Bob"
    response = await api.post("/api/v1/memories/extract", headers=headers,
                              json={"subject_id": "u1", "text": text, "learn": True})
    assert response.status_code == 200, response.text
    assert response.json()["learned_claim_count"] == 1
    slots = (await api.get("/api/v1/claims/subject/u1/truth", headers=headers)).json()["slots"]
    assert [s["slot"] for s in slots] == ["name"]


# --- the project header, path ids and query parameters ------------------------------------

async def test_an_over_long_project_is_refused_on_reads_and_writes(
        api: httpx.AsyncClient) -> None:
    for headers in ({b"x-project-id": LONG.encode()}, {b"x-project-id": WIDE.encode()}):
        refused(await api.get("/api/v1/memories", headers=headers,
                              params={"subject_id": "u"}), "project_id_too_long")
        refused(await api.post("/api/v1/memories", headers=headers,
                               json={"subject_id": "u", "text": "t"}), "project_id_too_long")


@pytest.mark.parametrize(("method", "path", "code", "field"), [
    ("GET", f"/api/v1/memories/{LONG}", "id_too_long", None),
    ("PATCH", f"/api/v1/memories/{LONG}", "id_too_long", None),
    ("DELETE", f"/api/v1/memories/{LONG}", "id_too_long", None),
    ("POST", f"/api/v1/memories/{LONG}/restore", "id_too_long", None),
    ("GET", f"/api/v1/memories/{LONG}/claims", "id_too_long", None),
    ("POST", f"/api/v1/claims/{LONG}/retract", "id_too_long", None),
    ("GET", f"/api/v1/claims/{LONG}", "id_too_long", None),
    ("GET", "/api/v1/memories/mem%00x", "invalid_character", "id"),
    ("GET", "/api/v1/claims/clm%00x", "invalid_character", "id"),
    ("GET", f"/api/v1/claims/subject/{LONG}/truth", "subject_id_too_long", None),
    ("GET", f"/api/v1/claims/subject/u/slot/{LONG}", "slot_too_long", None),
    ("GET", "/api/v1/claims/subject/u%00/slots", "invalid_character", "subject_id"),
    ("GET", f"/api/v1/subjects/{LONG}/timeline", "subject_id_too_long", None),
    ("GET", f"/api/v1/memories?subject_id={LONG}", "subject_id_too_long", None),
    ("GET", f"/api/v1/memories/superseded?subject_id={LONG}", "subject_id_too_long", None),
    ("GET", f"/api/v1/memories/search?subject_id={LONG}&q=tea", "subject_id_too_long", None),
    ("GET", "/api/v1/memories/search?subject_id=u&q=te%00a", "invalid_character", "q"),
    ("GET", f"/api/v1/memories/recalls?chat_id={LONG}", "chat_id_too_long", None),
    ("GET", f"/api/v1/memories/recalls?memory_id={LONG}", "memory_id_too_long", None),
    ("GET", "/api/v1/memories/recalls?chat_id=c%00", "invalid_character", "chat_id"),
    ("GET", f"/api/v1/claims/subject/u/history?slot={LONG}", "slot_too_long", None),
    ("GET", f"/api/v1/events/memories?subject_id={LONG}", "subject_id_too_long", None),
    ("GET", "/api/v1/events/memories?subject_id=u%00", "invalid_character", "subject_id"),
])
async def test_ids_in_paths_and_queries_are_checked(api: httpx.AsyncClient, method: str,
                                                    path: str, code: str,
                                                    field: str | None) -> None:
    refused(await api.request(method, path, headers=project()), code, field)


@pytest.mark.parametrize("query", [
    "limit=99999999999999999999", "offset=1e400", "limit=1e400", "offset=-1e400",
    "limit=0x" + "f" * 300, "offset=" + "9" * 400, "limit=" + "1" * 5000 + "x",
])
async def test_out_of_range_numbers_in_queries_are_clamped_never_500(
        api: httpx.AsyncClient, query: str) -> None:
    response = await api.get(f"/api/v1/memories?subject_id=u&{query}", headers=project())
    assert response.status_code == 200, response.text
    assert response.json() == {"data": [], "count": 0}


@pytest.mark.parametrize("after", ["0:99999999999999999999", "0:" + "9" * 5000, "0:\u00b2"])
async def test_an_out_of_range_timeline_position_is_a_400(api: httpx.AsyncClient,
                                                          after: str) -> None:
    response = await api.get("/api/v1/subjects/u/timeline", headers=project(),
                             params={"after": after})
    assert response.status_code == 400 and response.json()["error"] == "invalid_after"


async def test_an_unexpected_error_names_the_request_id_not_the_cause(
        system: System, api: httpx.AsyncClient) -> None:
    headers, event_id = project(), uuid7()
    conn = await asyncpg.connect(system.dsn)
    try:  # an outcome whose text must stay in the logs
        schema = await conn.fetchval("SELECT schema_name FROM projection_pointer") or "public"
        await conn.execute(
            f'INSERT INTO "{schema}".command_outcomes (event_id, project_id, event_type, status, '
            "body, decided_at) VALUES ($1, $2, 'memory.submitted', 500, $3, now())", event_id,
            headers["x-project-id"],
            orjson.dumps({"error": "server_error", "message": "value out of int64 range"}).decode())
    finally:
        await conn.close()
    response = await api.get(f"/api/v1/commands/{event_id}",
                             headers={**headers, "x-request-id": "edge-req-1"})
    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "message": "internal error",
                               "request_id": "edge-req-1"}


# --- body size while streaming --------------------------------------------------------------

def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    return head + await reader.readexactly(int(length.group(1)) if length else 0)


async def raw_request(system: System, head: str, body_chunks: int, chunk: bytes) -> bytes:
    """Send `head`, then up to `body_chunks` chunks of a chunked body (stopping as soon as the
    server answers or stops reading); returns everything the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", system.port)
    answer = asyncio.ensure_future(read_response(reader))
    writer.write(head.encode())
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        for _ in range(body_chunks):
            if answer.done():
                break
            writer.write(frame)
            await asyncio.wait_for(writer.drain(), 10)
        if body_chunks and not answer.done():
            writer.write(b"0\r\n\r\n")
            await asyncio.wait_for(writer.drain(), 10)
    except (ConnectionError, TimeoutError):
        pass  # the server closed the connection, or stopped reading: both are the point
    try:
        return await asyncio.wait_for(answer, 15)
    finally:
        writer.close()


def head_of(system: System, **extra: str) -> str:
    lines = ["POST /api/v1/memories HTTP/1.1", f"host: 127.0.0.1:{system.port}",
             f"x-api-key: {system.api_key}", f"x-project-id: edge-{uuid.uuid4().hex[:8]}",
             "content-type: application/json", *(f"{k}: {v}" for k, v in extra.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


async def test_a_chunked_body_is_cut_off_at_the_limit(system: System) -> None:
    assert system.api is not None
    limit = system.settings().max_body_bytes
    chunk = b"x" * (64 * 1024)
    chunks = 32 * limit // len(chunk)  # 32x the limit, with no content-length
    before, peak = rss_kb(system.api.pid), 0
    upload = asyncio.ensure_future(raw_request(
        system, head_of(system, **{"transfer-encoding": "chunked"}), chunks, chunk))
    while not upload.done():
        peak = max(peak, rss_kb(system.api.pid))
        await asyncio.sleep(0.002)
    answer = upload.result()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'{"error":"payload_too_large","max_bytes":' + str(limit).encode() in answer
    growth_mb = (max(peak, rss_kb(system.api.pid)) - before) / 1024
    assert growth_mb < 8, f"API grew by {growth_mb:.1f} MB for a {32 * limit >> 20} MB body"


async def test_a_declared_length_over_the_limit_is_refused_unread(system: System) -> None:
    limit = system.settings().max_body_bytes
    started = time.monotonic()
    answer = await raw_request(system, head_of(system, **{"content-length": str(50 * limit)}),
                               0, b"")
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5  # no wait for a body that never comes


# --- adversarial extraction -----------------------------------------------------------------

async def test_adversarial_extraction_text_keeps_the_api_responsive(
        api: httpx.AsyncClient) -> None:
    text = "my favorite " * (200 * 1024 // len("my favorite "))
    started = time.monotonic()
    extract = asyncio.ensure_future(api.post(
        "/api/v1/memories/extract", headers=project(), json={"subject_id": "u1", "text": text}))
    slowest = 0.0
    while not extract.done():
        probe = time.monotonic()
        assert (await api.get("/health")).status_code == 200
        slowest = max(slowest, time.monotonic() - probe)
        await asyncio.sleep(0.01)
    response = extract.result()
    assert response.status_code == 200, response.text
    assert response.json()["extracted_count"] == 1
    assert time.monotonic() - started < 10 and slowest < 2
