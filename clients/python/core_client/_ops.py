"""Every route of the API as an `Op`: path, parameters, body, and the model of its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel

from core_client._core import Op, clean, model
from core_client.models import (
    BatchResult,
    ClaimAsserted,
    ClaimDetail,
    ClaimGraph,
    ClaimHistory,
    ClaimRetracted,
    CommandPending,
    CommandStatus,
    ExtractLearned,
    ExtractPreview,
    Health,
    MemoryAssertionPage,
    MemoryDeleted,
    MemoryEnvelope,
    MemoryPage,
    MemoryRestored,
    MemoryUpdated,
    MemoryWriteResult,
    RecallPage,
    RecallStats,
    SearchResult,
    SlotListing,
    SlotTruth,
    Timeline,
    Truth,
)

MEMORIES = "/api/v1/memories"
CLAIMS = "/api/v1/claims"
SUBJECT = "/api/v1/claims/subject/{subject_id}"

ROUTE_MODELS: dict[tuple[str, str], tuple[type[BaseModel], ...]] = {
    ("POST", MEMORIES): (MemoryWriteResult,),
    ("GET", MEMORIES): (MemoryPage,),
    ("GET", f"{MEMORIES}/{{id}}"): (MemoryEnvelope,),
    ("PATCH", f"{MEMORIES}/{{id}}"): (MemoryUpdated,),
    ("DELETE", f"{MEMORIES}/{{id}}"): (MemoryDeleted,),
    ("POST", f"{MEMORIES}/{{id}}/restore"): (MemoryRestored,),
    ("GET", f"{MEMORIES}/superseded"): (MemoryPage,),
    ("GET", f"{MEMORIES}/{{id}}/claims"): (MemoryAssertionPage,),
    ("GET", f"{MEMORIES}/search"): (SearchResult,),
    ("POST", f"{MEMORIES}/extract"): (ExtractPreview, ExtractLearned),
    ("GET", f"{MEMORIES}/recalls"): (RecallPage, RecallStats),
    ("POST", CLAIMS): (ClaimAsserted,),
    ("POST", f"{CLAIMS}/{{id}}/retract"): (ClaimRetracted,),
    ("GET", f"{CLAIMS}/{{id}}"): (ClaimDetail,),
    ("GET", f"{SUBJECT}/truth"): (Truth,),
    ("GET", f"{SUBJECT}/slot/{{slot}}"): (SlotTruth,),
    ("GET", f"{SUBJECT}/slots"): (SlotListing,),
    ("GET", f"{SUBJECT}/graph"): (ClaimGraph,),
    ("GET", f"{SUBJECT}/history"): (ClaimHistory,),
    ("GET", "/api/v1/subjects/{subject_id}/timeline"): (Timeline,),
    ("POST", f"{MEMORIES}/batch"): (BatchResult,),
    ("POST", f"{CLAIMS}/batch"): (BatchResult,),
}
"""The model(s) of each route's success answers (202 aside), checked against /openapi.json."""
PENDING_MODEL = CommandPending
"""The 202 answer of GET /api/v1/commands/{event_id}."""


def seg(value: str) -> str:
    return quote(value, safe="")


def health() -> Op[Health]:
    return Op("GET", "/health", model(Health))


def create_memory(subject_id: str, text: str, fields: Mapping[str, Any],
                  key: str | None) -> Op[MemoryWriteResult]:
    body = {"subject_id": subject_id, "text": text, **fields}
    return Op("POST", MEMORIES, model(MemoryWriteResult), body=body, write=True,
              idempotency_key=key)


def list_memories(subject_id: str, limit: int, offset: int, include_deleted: bool,
                  include_superseded: bool) -> Op[MemoryPage]:
    return Op("GET", MEMORIES, model(MemoryPage), clean({
        "subject_id": subject_id, "limit": limit, "offset": offset,
        "include_deleted": include_deleted, "include_superseded": include_superseded}))


def get_memory(memory_id: str) -> Op[MemoryEnvelope]:
    return Op("GET", f"{MEMORIES}/{seg(memory_id)}", model(MemoryEnvelope))


def patch_memory(memory_id: str, changes: Mapping[str, Any],
                 key: str | None) -> Op[MemoryUpdated]:
    return Op("PATCH", f"{MEMORIES}/{seg(memory_id)}", model(MemoryUpdated), body=dict(changes),
              write=True, idempotency_key=key)


def delete_memory(memory_id: str, key: str | None) -> Op[MemoryDeleted]:
    return Op("DELETE", f"{MEMORIES}/{seg(memory_id)}", model(MemoryDeleted), write=True,
              idempotency_key=key)


def restore_memory(memory_id: str, key: str | None) -> Op[MemoryRestored]:
    return Op("POST", f"{MEMORIES}/{seg(memory_id)}/restore", model(MemoryRestored),
              write=True, idempotency_key=key)


def superseded_memories(subject_id: str, limit: int, offset: int) -> Op[MemoryPage]:
    return Op("GET", f"{MEMORIES}/superseded", model(MemoryPage),
              clean({"subject_id": subject_id, "limit": limit, "offset": offset}))


def memory_claims(memory_id: str) -> Op[MemoryAssertionPage]:
    return Op("GET", f"{MEMORIES}/{seg(memory_id)}/claims", model(MemoryAssertionPage))


def search(subject_id: str, q: str, limit: int | None, min_score: float | None,
           context: Sequence[str], chat_id: str | None) -> Op[SearchResult]:
    params = clean({"subject_id": subject_id, "q": q, "limit": limit, "min_score": min_score,
                    "chat_id": chat_id})
    if context:
        params["context"] = list(context)
    return Op("GET", f"{MEMORIES}/search", model(SearchResult), params)


def _extract_body(subject_id: str, text: str, learn: bool, force: bool,
                  context: Sequence[str]) -> dict[str, Any]:
    return {"subject_id": subject_id, "text": text, "learn": learn, "force": force,
            "conversation_context": list(context)}


def extract(subject_id: str, text: str, force: bool,
            context: Sequence[str]) -> Op[ExtractPreview]:
    return Op("POST", f"{MEMORIES}/extract", model(ExtractPreview),
              body=_extract_body(subject_id, text, False, force, context))


def learn(subject_id: str, text: str, force: bool, context: Sequence[str],
          key: str | None) -> Op[ExtractLearned]:
    return Op("POST", f"{MEMORIES}/extract", model(ExtractLearned),
              body=_extract_body(subject_id, text, True, force, context), write=True,
              idempotency_key=key)


def recalls(chat_id: str | None, memory_id: str | None, limit: int | None) -> Op[RecallPage]:
    return Op("GET", f"{MEMORIES}/recalls", model(RecallPage),
              clean({"chat_id": chat_id, "memory_id": memory_id, "limit": limit}))


def recall_stats(memory_id: str) -> Op[RecallStats]:
    return Op("GET", f"{MEMORIES}/recalls", model(RecallStats),
              {"memory_id": memory_id, "stats": "true"})


def assert_claim(subject_id: str, predicate: str, object_value: str,
                 fields: Mapping[str, Any], key: str | None) -> Op[ClaimAsserted]:
    body = {"subject_id": subject_id, "predicate": predicate, "object_value": object_value,
            **fields}
    return Op("POST", CLAIMS, model(ClaimAsserted), body=body, write=True, idempotency_key=key)


def retract_claim(claim_id: str, reason: str | None, key: str | None) -> Op[ClaimRetracted]:
    body = {} if reason is None else {"reason": reason}
    return Op("POST", f"{CLAIMS}/{seg(claim_id)}/retract", model(ClaimRetracted), body=body,
              write=True, idempotency_key=key)


def get_claim(claim_id: str) -> Op[ClaimDetail]:
    return Op("GET", f"{CLAIMS}/{seg(claim_id)}", model(ClaimDetail))


def _subject(subject_id: str) -> str:
    return SUBJECT.format(subject_id=seg(subject_id))


def truth(subject_id: str, include_source: bool) -> Op[Truth]:
    return Op("GET", f"{_subject(subject_id)}/truth", model(Truth),
              {"include_source": str(include_source).lower()})


def slot(subject_id: str, slot_name: str) -> Op[SlotTruth]:
    return Op("GET", f"{_subject(subject_id)}/slot/{seg(slot_name)}", model(SlotTruth))


def slots(subject_id: str, limit: int | None) -> Op[SlotListing]:
    return Op("GET", f"{_subject(subject_id)}/slots", model(SlotListing),
              clean({"limit": limit}))


def graph(subject_id: str, limit: int | None) -> Op[ClaimGraph]:
    return Op("GET", f"{_subject(subject_id)}/graph", model(ClaimGraph), clean({"limit": limit}))


def history(subject_id: str, slot_name: str | None, limit: int | None) -> Op[ClaimHistory]:
    return Op("GET", f"{_subject(subject_id)}/history", model(ClaimHistory),
              clean({"slot": slot_name, "limit": limit}))


def timeline(subject_id: str, after: str | None, limit: int | None) -> Op[Timeline]:
    return Op("GET", f"/api/v1/subjects/{seg(subject_id)}/timeline", model(Timeline),
              clean({"after": after, "limit": limit}))


def command_status(event_id: str) -> Op[CommandStatus]:
    def parse(status: int, body: Any) -> CommandStatus:
        return CommandStatus(event_id=event_id, pending=status == 202, status=status,
                             body=body if isinstance(body, dict) else {"body": body})

    path = event_id if event_id.startswith("/") else f"/api/v1/commands/{seg(event_id)}"
    return Op("GET", path, parse)


def batch(path: str, items: Sequence[Mapping[str, Any]], key: str) -> Op[BatchResult]:
    return Op("POST", path, model(BatchResult), body={"items": [dict(i) for i in items]},
              write=True, idempotency_key=key)
