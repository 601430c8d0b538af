"""CoreClient: the synchronous client (httpx.Client underneath)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal, TypeVar, Unpack, overload

import httpx

from core_client import _ops as ops
from core_client._core import (
    Op,
    Retry,
    accepted,
    base_headers,
    chunk_key,
    chunks,
    decode,
    is_accepted,
    merged,
    new_key,
    request_headers,
    result,
    retry_after,
    retryable,
    unreachable,
)
from core_client.errors import ConnectionFailed, WaitTimeout
from core_client.models import (
    Accepted,
    BatchItemResult,
    BatchResult,
    ClaimAsserted,
    ClaimDetail,
    ClaimFields,
    ClaimGraph,
    ClaimHistory,
    ClaimRetracted,
    CommandStatus,
    Event,
    ExtractLearned,
    ExtractPreview,
    Health,
    Memory,
    MemoryAssertionPage,
    MemoryChanges,
    MemoryDeleted,
    MemoryFields,
    MemoryRestored,
    MemoryUpdated,
    MemoryWriteResult,
    NewClaim,
    NewMemory,
    RecallPage,
    RecallStats,
    SearchResult,
    SlotListing,
    SlotTruth,
    Timeline,
    Truth,
)
from core_client.sse import EVENTS_PATH, Parser, StreamState, refusal, stream_params, wanted

T = TypeVar("T")
DEFAULT_URL = "http://127.0.0.1:8080"


class CoreClient:
    """A CORE API client. Every write carries an Idempotency-Key (generated unless given) that
    its retries reuse; `wait=True` (the default) returns the final answer, following a 202's
    `status_url` when the server's own wait ran out; `wait=False` returns the 202 at once."""

    def __init__(self, base_url: str = DEFAULT_URL, api_key: str | None = None,
                 project: str | None = None, *, timeout: float = 30.0,
                 retry: Retry | None = None, wait_timeout: float = 60.0,
                 headers: dict[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.retry = retry or Retry()
        self.timeout, self.wait_timeout = timeout, wait_timeout
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  headers=base_headers(api_key, project, headers),
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoreClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------

    def _send(self, op: Op[Any], key: str | None,
              respond_async: bool = False) -> tuple[int, Any, httpx.Response]:
        headers = request_headers(op, key, respond_async)
        attempt = 0
        while True:
            try:
                response = self._http.request(op.method, op.path, params=op.params,
                                              json=op.body, headers=headers)
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise unreachable(exc) from exc
                time.sleep(self.retry.delay(attempt))
                attempt += 1
                continue
            body = decode(response)
            if retryable(response.status_code, body) and attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.delay(attempt, retry_after(response)))
                attempt += 1
                continue
            return response.status_code, body, response

    def _run(self, op: Op[T]) -> T:
        key = (op.idempotency_key or new_key()) if op.write else None
        status, body, response = self._send(op, key)
        if is_accepted(status, body):
            status, body = self._follow(body)
        return result(op, status, body, retry_after(response))

    def _submit(self, op: Op[Any]) -> Accepted:
        status, body, response = self._send(op, op.idempotency_key or new_key(), True)
        if status >= 400:
            result(op, status, body, retry_after(response))
        return accepted(status, body)

    def _follow(self, body: dict[str, Any]) -> tuple[int, Any]:
        """Poll a 202's status_url until the command has its final answer."""
        deadline, pause = time.monotonic() + self.wait_timeout, 0.05
        while True:
            status, found, _ = self._send(ops.command_status(body["status_url"]), None)
            if status != 202:
                return status, found
            if time.monotonic() + pause > deadline:
                raise WaitTimeout(body["event_id"], body["status_url"])
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _batch(self, path: str, items: Sequence[Any], wait: bool,
               key: str | None) -> BatchResult:
        parts, key = chunks(list(items)), key or new_key()
        results = []
        for index, part in enumerate(parts):
            op = ops.batch(path, part, chunk_key(key, index, len(parts)))
            status, body, response = self._send(op, op.idempotency_key, not wait)
            found = result(op, status, body, retry_after(response))
            if wait:
                found = BatchResult(results=[self._settled(item) for item in found.results])
            results.append(found)
        return merged(results)

    def _settled(self, item: BatchItemResult) -> BatchItemResult:
        if not is_accepted(item.status, item.body):
            return item
        status, body = self._follow(item.body)
        return BatchItemResult(status=status, body=body)

    # --- memories -----------------------------------------------------------------------

    def health(self) -> Health:
        return self._run(ops.health())

    @overload
    def create_memory(self, subject_id: str, text: str, *, wait: Literal[True] = ...,
                      idempotency_key: str | None = ...,
                      **fields: Unpack[MemoryFields]) -> MemoryWriteResult: ...
    @overload
    def create_memory(self, subject_id: str, text: str, *, wait: Literal[False],
                      idempotency_key: str | None = ...,
                      **fields: Unpack[MemoryFields]) -> Accepted: ...
    def create_memory(self, subject_id: str, text: str, *, wait: bool = True,
                      idempotency_key: str | None = None,
                      **fields: Unpack[MemoryFields]) -> MemoryWriteResult | Accepted:
        op = ops.create_memory(subject_id, text, fields, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    def create_memories(self, items: Sequence[NewMemory], *, wait: bool = True,
                        idempotency_key: str | None = None) -> BatchResult:
        """POST /api/v1/memories/batch, 500 items per request; one result per item, in order."""
        return self._batch(f"{ops.MEMORIES}/batch", items, wait, idempotency_key)

    def list_memories(self, subject_id: str, *, limit: int = 50, offset: int = 0,
                      include_deleted: bool = False,
                      include_superseded: bool = False) -> list[Memory]:
        return self._run(ops.list_memories(subject_id, limit, offset, include_deleted,
                                           include_superseded)).data

    def get_memory(self, memory_id: str) -> Memory:
        return self._run(ops.get_memory(memory_id)).data

    @overload
    def patch_memory(self, memory_id: str, *, wait: Literal[True] = ...,
                     idempotency_key: str | None = ...,
                     **changes: Unpack[MemoryChanges]) -> MemoryUpdated: ...
    @overload
    def patch_memory(self, memory_id: str, *, wait: Literal[False],
                     idempotency_key: str | None = ...,
                     **changes: Unpack[MemoryChanges]) -> Accepted: ...
    def patch_memory(self, memory_id: str, *, wait: bool = True,
                     idempotency_key: str | None = None,
                     **changes: Unpack[MemoryChanges]) -> MemoryUpdated | Accepted:
        op = ops.patch_memory(memory_id, changes, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    @overload
    def delete_memory(self, memory_id: str, *, wait: Literal[True] = ...,
                      idempotency_key: str | None = ...) -> MemoryDeleted: ...
    @overload
    def delete_memory(self, memory_id: str, *, wait: Literal[False],
                      idempotency_key: str | None = ...) -> Accepted: ...
    def delete_memory(self, memory_id: str, *, wait: bool = True,
                      idempotency_key: str | None = None) -> MemoryDeleted | Accepted:
        op = ops.delete_memory(memory_id, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    @overload
    def restore_memory(self, memory_id: str, *, wait: Literal[True] = ...,
                       idempotency_key: str | None = ...) -> MemoryRestored: ...
    @overload
    def restore_memory(self, memory_id: str, *, wait: Literal[False],
                       idempotency_key: str | None = ...) -> Accepted: ...
    def restore_memory(self, memory_id: str, *, wait: bool = True,
                       idempotency_key: str | None = None) -> MemoryRestored | Accepted:
        op = ops.restore_memory(memory_id, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    def superseded_memories(self, subject_id: str, *, limit: int = 50,
                            offset: int = 0) -> list[Memory]:
        return self._run(ops.superseded_memories(subject_id, limit, offset)).data

    def memory_claims(self, memory_id: str) -> MemoryAssertionPage:
        return self._run(ops.memory_claims(memory_id))

    def search(self, subject_id: str, q: str, *, limit: int | None = None,
               min_score: float | None = None, context: Sequence[str] = (),
               chat_id: str | None = None) -> SearchResult:
        return self._run(ops.search(subject_id, q, limit, min_score, context, chat_id))

    def extract(self, subject_id: str, text: str, *, force: bool = False,
                context: Sequence[str] = ()) -> ExtractPreview:
        """Extract memories from text without storing them (`learn=false`)."""
        return self._run(ops.extract(subject_id, text, force, context))

    @overload
    def learn(self, subject_id: str, text: str, *, force: bool = ...,
              context: Sequence[str] = ..., wait: Literal[True] = ...,
              idempotency_key: str | None = ...) -> ExtractLearned: ...
    @overload
    def learn(self, subject_id: str, text: str, *, force: bool = ...,
              context: Sequence[str] = ..., wait: Literal[False],
              idempotency_key: str | None = ...) -> Accepted: ...
    def learn(self, subject_id: str, text: str, *, force: bool = False,
              context: Sequence[str] = (), wait: bool = True,
              idempotency_key: str | None = None) -> ExtractLearned | Accepted:
        """Extract memories from text and store them with their claims (`learn=true`)."""
        op = ops.learn(subject_id, text, force, context, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    def recalls(self, *, chat_id: str | None = None, memory_id: str | None = None,
                limit: int | None = None) -> RecallPage:
        return self._run(ops.recalls(chat_id, memory_id, limit))

    def recall_stats(self, memory_id: str) -> RecallStats:
        return self._run(ops.recall_stats(memory_id))

    # --- claims -------------------------------------------------------------------------

    @overload
    def assert_claim(self, subject_id: str, predicate: str, object_value: str, *,
                     wait: Literal[True] = ..., idempotency_key: str | None = ...,
                     **fields: Unpack[ClaimFields]) -> ClaimAsserted: ...
    @overload
    def assert_claim(self, subject_id: str, predicate: str, object_value: str, *,
                     wait: Literal[False], idempotency_key: str | None = ...,
                     **fields: Unpack[ClaimFields]) -> Accepted: ...
    def assert_claim(self, subject_id: str, predicate: str, object_value: str, *,
                     wait: bool = True, idempotency_key: str | None = None,
                     **fields: Unpack[ClaimFields]) -> ClaimAsserted | Accepted:
        op = ops.assert_claim(subject_id, predicate, object_value, fields, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    def assert_claims(self, items: Sequence[NewClaim], *, wait: bool = True,
                      idempotency_key: str | None = None) -> BatchResult:
        """POST /api/v1/claims/batch, 500 items per request; one result per item, in order."""
        return self._batch(f"{ops.CLAIMS}/batch", items, wait, idempotency_key)

    @overload
    def retract_claim(self, claim_id: str, reason: str | None = ..., *,
                      wait: Literal[True] = ...,
                      idempotency_key: str | None = ...) -> ClaimRetracted: ...
    @overload
    def retract_claim(self, claim_id: str, reason: str | None = ..., *,
                      wait: Literal[False], idempotency_key: str | None = ...) -> Accepted: ...
    def retract_claim(self, claim_id: str, reason: str | None = None, *, wait: bool = True,
                      idempotency_key: str | None = None) -> ClaimRetracted | Accepted:
        op = ops.retract_claim(claim_id, reason, idempotency_key)
        return self._run(op) if wait else self._submit(op)

    def get_claim(self, claim_id: str) -> ClaimDetail:
        return self._run(ops.get_claim(claim_id))

    def truth(self, subject_id: str, *, include_source: bool = True) -> Truth:
        return self._run(ops.truth(subject_id, include_source))

    def slot(self, subject_id: str, slot: str) -> SlotTruth:
        return self._run(ops.slot(subject_id, slot))

    def slots(self, subject_id: str, *, limit: int | None = None) -> SlotListing:
        return self._run(ops.slots(subject_id, limit))

    def graph(self, subject_id: str, *, limit: int | None = None) -> ClaimGraph:
        return self._run(ops.graph(subject_id, limit))

    def history(self, subject_id: str, *, slot: str | None = None,
                limit: int | None = None) -> ClaimHistory:
        return self._run(ops.history(subject_id, slot, limit))

    # --- log ----------------------------------------------------------------------------

    def timeline(self, subject_id: str, *, after: str | None = None,
                 limit: int | None = None) -> Timeline:
        return self._run(ops.timeline(subject_id, after, limit))

    def command_status(self, event_id: str) -> CommandStatus:
        """The outcome of an accepted command (`pending` until projected)."""
        return self._run(ops.command_status(event_id))

    def wait_for(self, accepted: Accepted) -> CommandStatus:
        """Follow a 202 to its final answer (raises WaitTimeout after `wait_timeout`)."""
        status, body = self._follow(accepted.model_dump())
        return result(ops.command_status(accepted.event_id), status, body)

    def events(self, subject_id: str | None = None, *, include_claims: bool = False,
               last_event_id: str | None = None, control: bool = False,
               max_reconnects: int | None = None,
               read_timeout: float = 90.0) -> Iterator[Event]:
        """The live SSE stream: reconnects on its own and resumes from the last position
        (Last-Event-ID), so nothing is lost or repeated across drops and API restarts.
        `control=True` also yields `connected` and `heartbeat` frames."""
        state = StreamState(last_event_id)
        params = stream_params(subject_id, include_claims)
        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        while True:
            try:
                with self._http.stream("GET", EVENTS_PATH, params=params,
                                       headers=state.headers(), timeout=timeout) as response:
                    if response.status_code != 200:
                        response.read()
                        fatal = refusal(response.status_code, decode(response))
                        if fatal is not None:
                            raise fatal
                    else:
                        parser = Parser()
                        for line in response.iter_lines():
                            event = parser.feed(line)
                            if event is not None:
                                state.seen(event)
                                if wanted(event, control):
                                    yield event
            except httpx.TransportError:
                pass
            state.failures += 1
            if max_reconnects is not None and state.failures > max_reconnects:
                raise ConnectionFailed(0, "stream_lost", message="gave up reconnecting")
            time.sleep(self.retry.delay(min(state.failures - 1, 8)))
