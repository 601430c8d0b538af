"""The Python client (clients/python) against the real system: its models against the live
/openapi.json and real answers, typed errors, a retried write applied once, 202 followed to
its outcome, batches, and SSE that resumes across an API restart."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from core_client import (
    Accepted,
    AsyncCoreClient,
    Conflict,
    ConnectionFailed,
    CoreClient,
    Event,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    Retry,
    Unauthorized,
    ValidationError,
)
from core_client._ops import PENDING_MODEL, ROUTE_MODELS
from pydantic import BaseModel

from core.auth.api_keys import create_key
from tests.support.model_drift import compare_model, resolve, route_problems, unknown_fields
from tests.support.system import REPO, Infra, System, start_system
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
PROJECT = "client-tests"
BATCH_PATHS = {"/api/v1/memories/batch", "/api/v1/claims/batch"}
FAST = Retry(attempts=4, backoff_s=0.05, max_backoff_s=0.5)


def subject() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(system: System) -> Iterator[CoreClient]:
    with CoreClient(system.url, system.api_key, PROJECT, retry=FAST) as found:
        yield found


@pytest.fixture(scope="module")
async def own(infra: Infra) -> AsyncIterator[System]:
    """A system of this module's own, whose API and worker the tests stop and restart."""
    started = await start_system(infra, env={"CORE_SSE_HEARTBEAT_MS": "500",
                                             "CORE_COMMAND_TIMEOUT_MS": "1500"})
    try:
        yield started
    finally:
        started.stop()


async def test_client_models_match_the_live_openapi_document(system: System) -> None:
    async with httpx.AsyncClient(base_url=system.url) as http:
        document = (await http.get("/openapi.json")).json()
    problems = [p for (method, path), models in ROUTE_MODELS.items()
                if path not in BATCH_PATHS
                for p in route_problems(document, method, path, models)]
    pending = document["paths"]["/api/v1/commands/{event_id}"]["get"]["responses"]["202"]
    problems += compare_model(document, resolve(document, pending["content"][
        "application/json"]["schema"]), PENDING_MODEL, "GET /api/v1/commands 202")
    assert problems == []
    documented = {(m.upper(), p) for p, ops in document["paths"].items()
                  for m, op in ops.items()
                  if any(s in ("200", "201") and "content" in a
                         for s, a in op["responses"].items())}
    assert documented - set(ROUTE_MODELS) == set()


def test_the_drift_check_sees_a_missing_and_an_extra_field() -> None:
    class Thing(BaseModel):
        a: str
        c: int | None = None

    document: dict[str, Any] = {"components": {"schemas": {}}}
    schema = {"properties": {"a": {"type": "string"}, "b": {"type": "string"}},
              "required": ["a", "b"]}
    problems = compare_model(document, schema, Thing, "x")
    assert any("lacks ['b']" in p for p in problems)
    assert any("has ['c']" in p for p in problems)


def test_every_route_answers_in_the_client_models(client: CoreClient) -> None:
    s = subject()
    created = client.create_memory(s, "I live in Austin", tags=["home"], importance=80)
    assert created.created and created.id is not None
    other = client.create_memory(s, "I like tea")
    assert other.id is not None
    asserted = client.assert_claim(s, "lives_in", "Austin", source_memory_id=created.id)
    newer = client.assert_claim(s, "lives_in", "Dallas")
    accepted = client.create_memory(s, "I work at Acme", wait=False)
    answers: list[Any] = [
        created, accepted, client.health(), client.get_memory(created.id),
        client.list_memories(s), client.patch_memory(created.id, text="I live in Austin, TX"),
        asserted, newer, client.retract_claim(newer.claim_id, "moved back"),
        client.get_claim(asserted.claim_id), client.truth(s), client.truth(s,
                                                                           include_source=False),
        client.slot(s, "lives_in"), client.slots(s), client.graph(s), client.history(s),
        client.memory_claims(created.id), client.search(s, "Austin", chat_id="chat-1"),
        client.extract(s, "My name is Bob", force=True),
        client.learn(s, "My favorite color is green", force=True),
        client.recalls(memory_id=created.id), client.recall_stats(created.id),
        client.superseded_memories(s), client.timeline(s),
        client.command_status(accepted.event_id), client.wait_for(accepted),
        client.delete_memory(other.id), client.restore_memory(created.id)]
    assert [unknown_fields(a, type(a).__name__) for a in answers if unknown_fields(a)] == []
    assert client.slot(s, "lives_in").object_value == "Austin"
    assert client.wait_for(accepted).status == 201
    assert [m.text for m in client.list_memories(s)][-1] == "I live in Austin, TX"
    assert client.search(s, "Austin").data[0].id == created.id
    with pytest.raises(ValidationError) as deleted:
        client.restore_memory(other.id)
    assert deleted.value.code == "memory_deleted"


async def test_errors_are_typed_with_the_spec_code(system: System, client: CoreClient) -> None:
    s = subject()
    with pytest.raises(NotFound) as missing:
        client.get_memory("mem_missing")
    assert missing.value.code == "memory_not_found" and missing.value.status == 404
    with pytest.raises(ValidationError) as invalid:
        client.search(s, "")
    assert invalid.value.code == "q_required"
    with CoreClient(system.url, "core_not-a-key", PROJECT) as stranger, \
            pytest.raises(Unauthorized) as refused:
        stranger.list_memories(s)
    assert refused.value.code == "invalid_api_key"
    conn = await asyncpg.connect(system.dsn)
    try:
        _, narrow = await create_key(conn, name="client-other", projects=["elsewhere"],
                                     scopes=["memories:read"])
    finally:
        await conn.close()
    with CoreClient(system.url, narrow, PROJECT) as outsider, \
            pytest.raises(Forbidden) as forbidden:
        outsider.list_memories(s)
    assert forbidden.value.code == "project_forbidden"
    key = uuid.uuid4().hex
    first = client.create_memory(s, "first text", idempotency_key=key)
    assert client.create_memory(s, "first text", idempotency_key=key) == first
    with pytest.raises(IdempotencyKeyReused):
        client.create_memory(s, "another text", idempotency_key=key)
    with pytest.raises(Conflict) as conflict:
        client.create_memory(s, "same id again", id=str(first.id))
    assert conflict.value.code == "memory_id_conflict"


class DropFirstAnswer(httpx.HTTPTransport):
    """The connection dies after the server handled the first write, before its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str | None] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method != "POST":
            return response
        self.keys.append(request.headers.get("idempotency-key"))
        if len(self.keys) == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection lost", request=request)
        return response


async def test_a_retried_write_is_applied_once(system: System) -> None:
    s, transport = subject(), DropFirstAnswer()
    with CoreClient(system.url, system.api_key, PROJECT, retry=FAST,
                    transport=transport) as flaky:
        created = flaky.create_memory(s, "written once despite the retry")
        assert created.created
    assert len(transport.keys) == 2 and transport.keys[0] == transport.keys[1] is not None
    conn = await asyncpg.connect(system.dsn)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM memories WHERE project_id = $1 AND subject_id = $2",
            PROJECT, s)
    finally:
        await conn.close()
    assert rows == 1
    with CoreClient(system.url, system.api_key, PROJECT) as plain:
        assert plain.timeline(s).count == 1


def test_an_unreachable_api_fails_after_the_retries() -> None:
    with CoreClient("http://127.0.0.1:9", "k", retry=FAST) as nowhere, \
            pytest.raises(ConnectionFailed):
        nowhere.health()


async def test_batches_answer_per_item_and_apply_each_once(system: System,
                                                           client: CoreClient) -> None:
    """Needs POST /api/v1/memories/batch and /api/v1/claims/batch (issue 18 part 1)."""
    async with httpx.AsyncClient(base_url=system.url) as http:
        document = (await http.get("/openapi.json")).json()
    assert [p for path in sorted(BATCH_PATHS)
            for p in route_problems(document, "POST", path, ROUTE_MODELS[("POST", path)])] == []
    s, key = subject(), uuid.uuid4().hex
    items: list[Any] = [{"subject_id": s, "text": "batch one"}, {"subject_id": s},
                        {"subject_id": s, "text": "batch three"}]
    first = client.create_memories(items, idempotency_key=key)
    assert [r.status for r in first.results] == [201, 400, 201]
    assert first.results[1].error == "text_required"
    again = client.create_memories(items, idempotency_key=key)
    assert [r.body.get("id") for r in again.results] == [r.body.get("id") for r in first.results]
    assert len(client.list_memories(s)) == 2
    claims = client.assert_claims([{"subject_id": s, "predicate": "likes",
                                    "object_value": "tea"}], wait=False)
    assert [r.status for r in claims.results] == [202]
    assert client.wait_for(Accepted.model_validate(claims.results[0].body)).status == 201
    await wait_until(lambda: client.truth(s).slot_count == 1, "the batched claim projected")


class Recording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


async def test_a_202_is_followed_to_its_outcome(own: System) -> None:
    """With the projector down the API's wait runs out (202); the client polls status_url."""
    s, transport = subject(), Recording()
    async with AsyncCoreClient(own.url, own.api_key, PROJECT, retry=FAST,
                               transport=transport) as client:
        own.kill_worker()
        try:
            write = asyncio.create_task(client.create_memory(s, "waited for"))
            await wait_until(lambda: any(p.startswith("/api/v1/commands/")
                                         for p in transport.paths), "the client polls")
        finally:
            own.start_worker()
        created = await write
    assert created.created and created.text == "waited for"


async def test_events_resume_across_an_api_restart(own: System) -> None:
    """Both iterators (async, and sync in a thread) see every write exactly once, in order,
    though the API they stream from is killed and started again meanwhile."""
    s = subject()
    seen_async: list[str] = []
    seen_sync: list[str] = []
    stop, connected = threading.Event(), threading.Event()

    async def consume(stream: AsyncIterator[Event]) -> None:
        async for event in stream:
            if event.event == "memory.created":
                seen_async.append(event.data["text"])

    def consume_sync() -> None:
        with CoreClient(own.url, own.api_key, PROJECT, retry=FAST) as sync_client:
            for event in sync_client.events(s, control=True, read_timeout=5):
                connected.set()
                if event.event == "memory.created":
                    seen_sync.append(event.data["text"])
                if stop.is_set():
                    return

    async with AsyncCoreClient(own.url, own.api_key, PROJECT, retry=FAST) as client:
        stream = client.events(s, control=True, read_timeout=5)
        assert (await anext(stream)).event == "connected"
        reader = asyncio.create_task(consume(stream))
        thread = threading.Thread(target=consume_sync, daemon=True)
        thread.start()
        await wait_until(connected.is_set, "the sync stream is open")
        await client.create_memory(s, "one")
        await wait_until(lambda: "one" in seen_async and "one" in seen_sync, "first event")
        replica = own.start_replica()
        try:
            own.kill_api()
            async with AsyncCoreClient(replica.url, own.api_key, PROJECT) as other:
                await other.create_memory(s, "two")
                await other.create_memory(s, "three")
        finally:
            replica.stop()
        own.start_api()
        await client.create_memory(s, "four")
        want = ["one", "two", "three", "four"]
        await wait_until(lambda: seen_async == want and seen_sync == want,
                         f"all four on both streams (async {seen_async}, sync {seen_sync})",
                         timeout=60)
        stop.set()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await stream.aclose()
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive()


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Python client", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None, "README: no python block in the Python client section"
    return found.group(1)


def test_the_readme_example_runs(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORE_URL", system.url)
    monkeypatch.setenv("CORE_API_KEY", system.api_key)
    monkeypatch.setenv("CORE_PROJECT_ID", f"readme-{uuid.uuid4().hex[:6]}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})
    assert "Austin" in out.getvalue() and "I work at Acme" in out.getvalue()

