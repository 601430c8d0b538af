"""Response schemas of /openapi.json: the object shapes each route answers with.

The Python client (clients/python) models these same shapes; a test compares its models
with the live document, and another checks real answers against the client's models, so
the routes, this document and the client cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
NSTR: Schema = {"type": "string", "nullable": True}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
NTIME: Schema = {"type": "string", "format": "date-time", "nullable": True}
STRS: Schema = {"type": "array", "items": STR}
OBJ: Schema = {"type": "object"}
ANY: Schema = {"nullable": True}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def many(name: str) -> Schema:
    return {"type": "array", "items": ref(name)}


def obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    """An object; every property is required unless `required` names the ones that are."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required}


SLOT_FIELDS: dict[str, Schema] = {
    "slot": STR, "active_claim_id": NSTR, "predicate": STR, "object_value": STR,
    "claim_type": STR, "confidence": NUM, "tags": STRS, "updated_at": TIME,
    "source_memory_id": NSTR, "source_observation_id": NSTR}

COMPONENTS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": STR},
              "additionalProperties": True},
    "Accepted": obj({"accepted": BOOL, "event_id": STR, "status_url": STR}),
    "CommandPending": obj({"status": STR, "event_id": STR}),
    "Memory": obj({
        "id": STR, "project_id": STR, "subject_id": STR, "text": STR, "kind": STR,
        "visibility": STR, "importance": INT, "confidence": NUM, "is_temporal": BOOL,
        "tags": STRS, "metadata": ANY, "status": STR, "superseded_by": NSTR,
        "source_type": STR, "created_at": TIME, "updated_at": TIME, "last_seen_at": NTIME,
        "seen_count": INT, "reinforcement_count": INT, "last_reinforced_at": NTIME}),
    "MemoryEnvelope": obj({"data": ref("Memory")}),
    "MemoryPage": obj({"data": many("Memory"), "count": INT}),
    "MemoryCreated": obj({"id": STR, "subject_id": STR, "text": STR, "kind": STR,
                          "created": BOOL, "superseded_count": INT, "superseded_ids": STRS}),
    "MemorySkipped": obj({"id": NSTR, "subject_id": STR, "text": STR, "kind": STR,
                          "created": BOOL, "skipped": BOOL, "reason": STR}),
    "MemoryUpdated": obj({"id": STR, "updated": BOOL}),
    "MemoryDeleted": obj({"ok": BOOL, "deleted": BOOL}),
    "MemoryRestored": obj({"ok": BOOL, "restored": BOOL, "id": STR, "subject_id": STR,
                           "text": STR, "message": STR}, ["ok", "restored"]),
    "MemoryAssertion": obj({"id": STR, "predicate": STR, "type": STR, "value": ANY,
                            "confidence": NUM, "status": STR, "first_seen_at": TIME,
                            "last_seen_at": TIME}),
    "MemoryAssertionPage": obj({"data": many("MemoryAssertion"), "count": INT}),
    "SearchHit": obj({"id": STR, "text": STR, "kind": STR, "importance": NUM,
                      "is_temporal": BOOL, "created_at": TIME, "score": NUM,
                      "effective_score": NUM}),
    "SearchResult": obj({"data": many("SearchHit"), "query": STR, "count": INT, "engine": STR,
                         "mode": STR, "used_queries": STRS, "predicates": STRS}),
    "ExtractedClaim": obj({"predicate": STR, "object_value": STR, "claim_type": STR,
                           "confidence": NUM}, ["predicate", "object_value"]),
    "ExtractedMemory": obj({"text": STR, "kind": STR, "importance": NUM, "confidence": NUM,
                            "is_temporal": BOOL, "visibility": STR, "tags": STRS,
                            "claims": many("ExtractedClaim")}),
    "ExtractPreview": obj({"ok": BOOL, "learned": BOOL, "mode": STR, "extracted_count": INT,
                           "memories": many("ExtractedMemory")}),
    "LearnedMemory": obj({"memory_id": STR, "text": STR, "kind": STR, "claim_ids": STRS}),
    "ExtractLearned": obj({"ok": BOOL, "learned": BOOL, "mode": STR, "extracted_count": INT,
                           "learned_memory_count": INT, "learned_claim_count": INT,
                           "memories": many("LearnedMemory")}),
    "RecallEvent": obj({
        "event_id": STR, "project_id": STR, "subject_id": STR, "memory_id": STR,
        "memory_text": STR, "chat_id": STR, "message_index": INT, "chat_logged": BOOL,
        "similarity_score": NUM, "request_type": STR, "model": STR, "metadata": ANY,
        "recalled_at": TIME}),
    "RecallPage": obj({"data": many("RecallEvent"), "count": INT, "chat_id": STR,
                       "memory_id": STR}, ["data", "count"]),
    "RecallStatsValues": obj({"total_recalls": INT, "unique_chats": INT,
                              "unique_subjects": INT, "avg_score": NUM,
                              "first_recalled_at": NTIME, "last_recalled_at": NTIME}),
    "RecallStats": obj({"memory_id": STR, "stats": ref("RecallStatsValues")}),
    "ClaimAsserted": obj({"claim_id": STR, "subject_id": STR, "predicate": STR,
                          "object_value": STR, "slot": STR, "claim_type": STR,
                          "confidence": NUM, "observation_id": NSTR,
                          "linking_triggered": BOOL}),
    "ClaimRetracted": obj({"success": BOOL, "claim_id": STR, "slot": STR,
                           "previous_claim_id": NSTR, "restored_previous": BOOL,
                           "reason": STR}),
    "Claim": obj({
        "claim_id": STR, "project_id": STR, "subject_id": STR, "predicate": STR,
        "object_value": STR, "slot": STR, "claim_type": STR, "confidence": NUM,
        "importance": NUM, "tags": STRS, "source_memory_id": NSTR,
        "source_observation_id": NSTR, "subject_entity": STR, "status": STR,
        "asserted_at": TIME, "updated_at": TIME, "retracted_at": NTIME,
        "retract_reason": NSTR, "valid_from": NTIME, "valid_until": NTIME}),
    "Assertion": obj({
        "assertion_id": STR, "project_id": STR, "subject_id": STR, "claim_id": STR,
        "memory_id": NSTR, "predicate": STR, "object_type": STR, "value_string": NSTR,
        "value_number": {"type": "number", "nullable": True}, "value_date": NTIME,
        "value_json": ANY, "confidence": NUM, "status": STR, "first_seen_at": TIME,
        "last_seen_at": TIME}),
    "Edge": obj({
        "edge_id": INT, "project_id": STR, "subject_id": STR, "from_claim_id": STR,
        "to_claim_id": STR, "edge_type": STR, "weight": NUM, "reason_code": NSTR,
        "reason_text": NSTR, "created_at": TIME}),
    "ClaimDetail": obj({"claim": ref("Claim"), "assertions": many("Assertion"),
                        "edges": many("Edge"), "supersession_chain": many("Edge")}),
    "ClaimSource": obj({"memory_id": NSTR, "observation_id": NSTR}),
    "TruthSlot": obj({**SLOT_FIELDS, "source": ref("ClaimSource")},
                     [k for k in SLOT_FIELDS if not k.startswith("source_")]),
    "Truth": obj({"subject_id": STR, "project_id": STR, "slot_count": INT,
                  "slots": many("TruthSlot")}),
    "SlotTruth": obj({"subject_id": STR, "project_id": STR, "slot": STR,
                      "active_claim_id": STR, "predicate": STR, "object_value": STR,
                      "claim_type": STR, "confidence": NUM, "updated_at": TIME, "tags": STRS,
                      "source": ref("ClaimSource")}),
    "SlotRow": obj({**SLOT_FIELDS, "status": STR, "claim_id": STR, "superseded_by": STR},
                   [*SLOT_FIELDS, "status"]),
    "SlotGroups": obj({"active": many("SlotRow"), "superseded": many("SlotRow"),
                       "other": many("SlotRow")}),
    "SlotListing": obj({"subject_id": STR, "total": INT, "active_count": INT,
                        "slots": ref("SlotGroups")}),
    "ClaimGraph": obj({"subject_id": STR, "claims_count": INT, "edges_count": INT,
                       "edges_by_type": {"type": "object", "additionalProperties": INT},
                       "claims": many("Claim"), "edges": many("Edge")}),
    "ClaimHistory": obj({"subject_id": STR, "project_id": STR, "slot_filter": NSTR,
                         "by_slot": {"type": "object", "additionalProperties": many("Claim")},
                         "edges": many("Edge"), "total_claims": INT}),
    "TimelineEvent": obj({
        "position": STR, "event_id": STR, "type": STR, "v": INT, "occurred_at": TIME,
        "actor": NSTR, "idempotency_key": NSTR, "outcome_status": {"type": "integer",
                                                                   "nullable": True},
        "payload": ANY, "redacted": BOOL},
        ["position", "event_id", "type", "v", "occurred_at", "actor", "idempotency_key",
         "outcome_status", "payload"]),
    "Timeline": obj({"subject_id": STR, "project_id": STR, "count": INT,
                     "data": many("TimelineEvent"), "next_after": NSTR}),
    "BatchItemResult": obj({"status": INT, "body": OBJ}),
    "BatchResult": obj({"results": many("BatchItemResult")}),
}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def answers(*names: str, accepted: bool = False, status: str = "200") -> dict[str, Schema]:
    """A success status answered with one of the named shapes (+ 202 for writes)."""
    schema = ref(names[0]) if len(names) == 1 else {"oneOf": [ref(n) for n in names]}
    found = {status: {"description": " or ".join(names), **_json(schema)}}
    if accepted:
        found["202"] = {"description": "accepted (Prefer: respond-async, or the wait ran out)",
                        **_json(ref("Accepted"))}
    return found


SUBJECT = "/api/v1/claims/subject/{subject_id}"
RESPONSES: dict[tuple[str, str], dict[str, Schema]] = {
    ("POST", "/api/v1/memories"): {**answers("MemoryCreated", status="201", accepted=True),
                                   **answers("MemorySkipped")},
    ("GET", "/api/v1/memories"): answers("MemoryPage"),
    ("GET", "/api/v1/memories/{id}"): answers("MemoryEnvelope"),
    ("PATCH", "/api/v1/memories/{id}"): answers("MemoryUpdated", accepted=True),
    ("DELETE", "/api/v1/memories/{id}"): answers("MemoryDeleted", accepted=True),
    ("POST", "/api/v1/memories/{id}/restore"): answers("MemoryRestored", accepted=True),
    ("GET", "/api/v1/memories/superseded"): answers("MemoryPage"),
    ("GET", "/api/v1/memories/{id}/claims"): answers("MemoryAssertionPage"),
    ("GET", "/api/v1/memories/search"): answers("SearchResult"),
    ("POST", "/api/v1/memories/extract"): answers("ExtractPreview", "ExtractLearned",
                                                  accepted=True),
    ("GET", "/api/v1/memories/recalls"): answers("RecallPage", "RecallStats"),
    ("POST", "/api/v1/claims"): answers("ClaimAsserted", status="201", accepted=True),
    ("POST", "/api/v1/claims/{id}/retract"): answers("ClaimRetracted", accepted=True),
    ("GET", "/api/v1/claims/{id}"): answers("ClaimDetail"),
    ("GET", f"{SUBJECT}/truth"): answers("Truth"),
    ("GET", f"{SUBJECT}/slot/{{slot}}"): answers("SlotTruth"),
    ("GET", f"{SUBJECT}/slots"): answers("SlotListing"),
    ("GET", f"{SUBJECT}/graph"): answers("ClaimGraph"),
    ("GET", f"{SUBJECT}/history"): answers("ClaimHistory"),
    ("GET", "/api/v1/commands/{event_id}"): {
        "200": {"description": "the command's final answer, as its route gives it"},
        "202": {"description": "not projected yet", **_json(ref("CommandPending"))}},
    ("GET", "/api/v1/subjects/{subject_id}/timeline"): answers("Timeline"),
    ("POST", "/api/v1/memories/batch"): answers("BatchResult"),
    ("POST", "/api/v1/claims/batch"): answers("BatchResult"),
}


def responses_of(method: str, path: str) -> dict[str, Schema]:
    """The documented answers of a route: its success shapes, then any error."""
    return {**RESPONSES.get((method, path), {}),
            "default": {"description": "error (see the spec)", **_json(ref("Error"))}}
