"""The Python client's pure logic: SSE parsing, error mapping, retry decisions, batch keys."""

from __future__ import annotations

import pytest
from core_client import _ops as ops
from core_client._core import BATCH_MAX, Retry, chunk_key, chunks, retryable
from core_client.errors import (
    Conflict,
    CoreError,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationError,
    error_for,
)
from core_client.sse import Parser, StreamState

pytestmark = pytest.mark.unit


def feed(parser: Parser, text: str) -> list[tuple[str, object, str | None]]:
    found = [parser.feed(line) for line in text.split("\n")]
    return [(e.event, e.data, e.id) for e in found if e is not None]


def test_frames_are_parsed_with_their_position() -> None:
    text = ("event: connected\ndata: {\"project_id\":\"p\"}\nid: 0:1,1:2\n\n"
            ": a comment\n\nevent: memory.created\ndata: {\"id\":\"mem_1\"}\nid: 0:2,1:2\n\n")
    assert feed(Parser(), text) == [("connected", {"project_id": "p"}, "0:1,1:2"),
                                    ("memory.created", {"id": "mem_1"}, "0:2,1:2")]


def test_multi_line_and_non_json_data() -> None:
    assert feed(Parser(), "data: a\ndata: b\n\n") == [("message", "a\nb", None)]


def test_the_position_advances_only_with_frames_that_carry_one() -> None:
    state = StreamState()
    assert "last-event-id" not in state.headers()
    parser = Parser()
    for line in ["event: x", "data: 1", "id: 0:5", "", "event: y", "data: 2", "", ""]:
        event = parser.feed(line)
        if event is not None:
            state.seen(event)
    assert state.headers()["last-event-id"] == "0:5"


@pytest.mark.parametrize(("status", "code", "kind"), [
    (400, "subject_id_required", ValidationError), (401, "invalid_api_key", Unauthorized),
    (403, "insufficient_scope", Forbidden), (404, "memory_not_found", NotFound),
    (409, "memory_id_conflict", Conflict), (413, "payload_too_large", PayloadTooLarge),
    (422, "idempotency_key_reused", IdempotencyKeyReused), (429, "too_many_subscribers",
                                                            RateLimited),
    (500, "server_error", ServerError), (503, "http_503", ServerError),
    (408, "request_timeout", CoreError),
])
def test_each_answer_maps_to_its_error(status: int, code: str, kind: type[CoreError]) -> None:
    found = error_for(status, {"error": code, "extra": 1} if not code.startswith("http_")
                      else None)
    assert type(found) is kind
    assert (found.status, found.code) == (status, code)


def test_rate_limits_carry_retry_after() -> None:
    found = error_for(429, {"error": "too_many_subscribers"}, 3.0)
    assert isinstance(found, RateLimited) and found.retry_after == 3.0


@pytest.mark.parametrize(("status", "body", "again"), [
    (429, {}, True), (500, {}, True), (503, {}, True), (404, {}, False), (400, {}, False),
    (409, {"error": "idempotency_key_in_use"}, True), (409, {"error": "claim_id_conflict"},
                                                       False),
])
def test_what_is_retried(status: int, body: dict[str, str], again: bool) -> None:
    assert retryable(status, body) is again


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    retry = Retry(backoff_s=0.1, max_backoff_s=1.0)
    assert all(0.05 <= retry.delay(0) <= 0.1 for _ in range(50))
    assert all(retry.delay(10) <= 1.0 for _ in range(50))
    assert retry.delay(0, retry_after=2.0) == 2.0


def test_long_batches_are_chunked_with_derived_keys() -> None:
    items = list(range(BATCH_MAX * 2 + 1))
    parts = chunks(items)
    assert [len(p) for p in parts] == [BATCH_MAX, BATCH_MAX, 1]
    assert [chunk_key("k", i, len(parts)) for i in range(3)] == ["k-0", "k-1", "k-2"]
    assert chunk_key("k", 0, 1) == "k"


def test_path_segments_are_quoted() -> None:
    assert ops.get_memory("a/b c").path == "/api/v1/memories/a%2Fb%20c"
    assert ops.slot("u 1", "favorite/color").path == \
        "/api/v1/claims/subject/u%201/slot/favorite%2Fcolor"
    assert ops.command_status("/api/v1/commands/e1").path == "/api/v1/commands/e1"


def test_writes_carry_keys_and_reads_do_not() -> None:
    assert ops.create_memory("u", "t", {}, None).write
    assert not ops.search("u", "q", None, None, (), None).write
    assert ops.truth("u", False).params == {"include_source": "false"}
