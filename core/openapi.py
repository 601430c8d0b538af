"""The OpenAPI 3.0 document served at /openapi.json, built from the route table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.openapi_responses import COMPONENTS, responses_of
from kernel.routing import PUBLIC, RouteSpec

Schema = dict[str, Any]
STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "string", "enum": ["true", "false"]}

MEMORY_BODY: Schema = {"type": "object", "required": ["subject_id", "text"], "properties": {
    "subject_id": STRING, "text": {"type": "string", "maxLength": 10000}, "id": STRING,
    "kind": {"type": "string", "enum": ["fact", "preference", "context", "note", "event",
                                        "trait"]},
    "visibility": {"type": "string", "enum": ["private", "shared", "public"]},
    "importance": {"type": "number"}, "confidence": {"type": "number"},
    "is_temporal": {"type": "boolean"}, "tags": {"type": "array", "items": STRING},
    "metadata": {"type": "object"}, "source_type": STRING, "extract_claims": {"type": "boolean"},
    "no_supersede": {"type": "boolean"}}}
PATCH_BODY: Schema = {"type": "object", "properties": {
    k: v for k, v in MEMORY_BODY["properties"].items()
    if k in ("text", "kind", "visibility", "importance", "confidence", "is_temporal", "tags",
             "metadata")}}
CLAIM_BODY: Schema = {"type": "object", "required": ["subject_id", "predicate", "object_value"],
                      "properties": {
    "subject_id": STRING, "predicate": STRING, "object_value": STRING, "claim_id": STRING,
    "claim_type": STRING, "slot": STRING, "confidence": {"type": "number"},
    "importance": {"type": "number"}, "tags": {"type": "array", "items": STRING},
    "source_memory_id": STRING, "source_observation_id": STRING, "subject_entity": STRING,
    "valid_from": {"type": "string", "format": "date-time"},
    "valid_until": {"type": "string", "format": "date-time"}}}
EXTRACT_BODY: Schema = {"type": "object", "required": ["subject_id", "text"], "properties": {
    "subject_id": STRING, "text": STRING, "learn": {"type": "boolean"},
    "force": {"type": "boolean"}, "conversation_context": {"type": "array", "items": STRING}}}
RETRACT_BODY: Schema = {"type": "object", "properties": {"reason": STRING}}

BODIES: dict[tuple[str, str], Schema] = {
    ("POST", "/api/v1/memories"): MEMORY_BODY,
    ("PATCH", "/api/v1/memories/{id}"): PATCH_BODY,
    ("POST", "/api/v1/memories/extract"): EXTRACT_BODY,
    ("POST", "/api/v1/claims"): CLAIM_BODY,
    ("POST", "/api/v1/claims/{id}/retract"): RETRACT_BODY,
    ("POST", "/api/v1/memories/batch"): {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "maxItems": 500, "items": MEMORY_BODY}}},
    ("POST", "/api/v1/claims/batch"): {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "maxItems": 500, "items": CLAIM_BODY}}},
    ("POST", "/api/v1/events/tokens"): {"type": "object", "properties": {
        "subject_id": STRING, "include": STRING, "ttl_s": INTEGER}},
}
LIST = {"subject_id": STRING, "limit": INTEGER, "offset": INTEGER}
QUERIES: dict[tuple[str, str], dict[str, Schema]] = {
    ("GET", "/api/v1/memories"): {**LIST, "include_deleted": BOOLEAN,
                                  "include_superseded": BOOLEAN},
    ("GET", "/api/v1/memories/superseded"): LIST,
    ("GET", "/api/v1/memories/search"): {"subject_id": STRING, "q": STRING, "limit": INTEGER,
                                         "min_score": {"type": "number"}, "chat_id": STRING},
    ("GET", "/api/v1/memories/recalls"): {"chat_id": STRING, "memory_id": STRING,
                                          "stats": BOOLEAN, "limit": INTEGER},
    ("GET", "/api/v1/claims/subject/{subject_id}/truth"): {"include_source": BOOLEAN},
    ("GET", "/api/v1/claims/subject/{subject_id}/slots"): {"limit": INTEGER},
    ("GET", "/api/v1/claims/subject/{subject_id}/graph"): {"limit": INTEGER},
    ("GET", "/api/v1/claims/subject/{subject_id}/history"): {"slot": STRING, "limit": INTEGER},
    ("GET", "/api/v1/subjects/{subject_id}/timeline"): {"after": STRING, "limit": INTEGER},
    ("GET", "/api/v1/subjects"): {"prefix": STRING, "limit": INTEGER, "cursor": STRING},
    ("GET", "/api/v1/events/memories"): {"subject_id": STRING, "include": STRING,
                                         "access_token": STRING},
}
STREAMS = {("GET", "/api/v1/events/memories")}


def _operation(route: RouteSpec) -> dict[str, Any]:
    key = (route.method, route.path)
    parameters = [{"name": name, "in": "path", "required": True, "schema": STRING}
                  for name in re.findall(r"\{(\w+)\}", route.path)]
    parameters += [{"name": name, "in": "query", "required": False, "schema": schema}
                   for name, schema in QUERIES.get(key, {}).items()]
    parameters.append({"name": "x-project-id", "in": "header", "required": False,
                       "schema": STRING})
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', route.path)}",
        "parameters": parameters, "x-core-scope": route.scope,
        "responses": responses_of(route.method, route.path),
    }
    if route.scope != PUBLIC:
        operation["security"] = [{"apiKey": []}, {"bearer": []}]
    if key in BODIES:
        operation["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": BODIES[key]}}}
    if key in STREAMS:
        operation["responses"] = {"200": {"description": "text/event-stream"}}
    return operation


def openapi_document(routes: Sequence[RouteSpec]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.0.3",
        "info": {"title": "CORE memory engine", "version": "1"},
        "paths": paths,
        "components": {"schemas": COMPONENTS, "securitySchemes": {
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


def openapi_route(routes: Sequence[RouteSpec]) -> RouteSpec:
    """GET /openapi.json (public: it describes the API, it holds no data)."""
    from starlette.responses import Response

    from kernel.http import json_response
    from kernel.routing import Call

    document = openapi_document(routes)

    async def handler(_call: Call) -> Response:
        return json_response(200, document)

    return RouteSpec("GET", "/openapi.json", handler, PUBLIC)
