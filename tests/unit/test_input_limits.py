"""Input limits of the edge (kernel.input_limits) and the dispatcher's use of them: identifier
bytes, NUL anywhere, and a 500 that names a request id instead of the error."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from commands.context import CommandContext
from core.telemetry.http import RequestTelemetry
from kernel.http import json_response
from kernel.input_limits import (
    MAX_ID_BYTES,
    Invalid,
    carries_nul,
    check_request,
    checked_body,
    identifier,
)
from kernel.routing import REQUEST_ID_KEY, Call, Dispatcher, RouteSpec
from kernel.settings import Settings

pytestmark = pytest.mark.unit


def refusal(error: Invalid) -> dict[str, Any]:
    assert error.status == 400
    return error.body


def test_identifiers_are_limited_in_utf8_bytes() -> None:
    assert identifier("s" * MAX_ID_BYTES, "subject_id") == "s" * MAX_ID_BYTES
    with pytest.raises(Invalid) as long:
        identifier("s" * (MAX_ID_BYTES + 1), "subject_id")
    assert refusal(long.value) == {"error": "subject_id_too_long", "max_bytes": MAX_ID_BYTES}
    with pytest.raises(Invalid) as wide:  # 128 characters, 256 bytes
        identifier("é" * 128, "slot")
    assert refusal(wide.value)["error"] == "slot_too_long"
    with pytest.raises(Invalid) as nul:
        identifier("a\x00b", "id")
    assert refusal(nul.value)["error"] == "invalid_character"


@pytest.mark.parametrize(("body", "field"), [
    ({"text": "a\x00b"}, "text"),
    ({"text": "ok", "tags": ["x", "y\x00"]}, "tags"),
    ({"metadata": {"a": [{"b": "\x00"}]}}, "metadata"),
    ({"metadata": {"k\x00": 1}}, "metadata"),
    ({"conversation_context": ["fine", "\x00"]}, "conversation_context"),
    ({"x\x00": 1}, "x\x00"),
])
def test_a_nul_anywhere_in_a_body_names_its_top_level_field(body: dict[str, Any],
                                                            field: str) -> None:
    with pytest.raises(Invalid) as refused:
        checked_body(orjson.dumps(body))
    assert refusal(refused.value)["error"] == "invalid_character"
    assert refused.value.body["field"] == field


def test_bodies_without_nul_pass_and_deep_nesting_needs_no_recursion() -> None:
    assert checked_body(b'{"text":"a\\\\u0000 escaped backslash","n":[1,null,true]}')["n"]
    deep: Any = "\x00"
    for _ in range(5000):
        deep = [deep]
    assert carries_nul({"a": deep}) is True


def test_path_and_query_checks() -> None:
    check_request({"id": "mem_1"}, [("subject_id", " u "), ("q", "tea"), ("q", "x" * 5000)])
    for params, query, code in [
        ({"id": "m" * 256}, [], "id_too_long"),
        ({"subject_id": "\x00"}, [], "invalid_character"),
        ({}, [("subject_id", "u" * 256)], "subject_id_too_long"),
        ({}, [("chat_id", "c" * 256)], "chat_id_too_long"),
        ({}, [("memory_id", "m" * 256)], "memory_id_too_long"),
        ({}, [("slot", "s" * 256)], "slot_too_long"),
        ({}, [("q", "a\x00")], "invalid_character"),
        ({}, [("k\x00", "v")], "invalid_character"),
    ]:
        with pytest.raises(Invalid) as refused:
            check_request(params, query)
        assert refused.value.body["error"] == code


def app_with(handler: Any) -> Starlette:
    dispatcher = Dispatcher([RouteSpec("GET", "/things/{id}", handler, "x")], "p")

    async def endpoint(request: Request) -> Response:
        return await dispatcher(request)

    return Starlette(routes=[Route("/{path:path}", endpoint)],
                     middleware=[Middleware(RequestTelemetry)])


def test_an_unexpected_error_answers_a_request_id_and_logs_the_detail(
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(_call: Call) -> Response:
        raise ValueError("value out of int64 range")

    with caplog.at_level(logging.ERROR, "core.api"), TestClient(app_with(broken)) as client:
        response = client.get("/things/1", headers={"x-request-id": "req-42"})
    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "message": "internal error",
                               "request_id": "req-42"}
    assert "int64" not in response.text
    assert any("req-42" in r.getMessage() and "value out of int64 range" in r.getMessage()
               for r in caplog.records)


def test_refusals_come_before_the_handler() -> None:
    async def echo(call: Call) -> Response:
        return json_response(200, {"id": call.params["id"]})

    with TestClient(app_with(echo)) as client:
        assert client.get("/things/ok").status_code == 200
        long_id = client.get("/things/" + "i" * 256)
        nul = client.get("/things/ok?q=%00")
        project = client.get("/things/ok", headers={"x-project-id": "p" * 256})
    assert long_id.json() == {"error": "id_too_long", "max_bytes": MAX_ID_BYTES}
    assert (nul.status_code, nul.json()["field"]) == (400, "q")
    assert project.json()["error"] == "project_id_too_long"


def test_an_over_long_default_project_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="CORE_DEFAULT_PROJECT_ID"):
        Settings(_env_file=None, CORE_DEFAULT_PROJECT_ID="p" * 256)  # type: ignore[call-arg]
    assert Settings(_env_file=None,  # type: ignore[call-arg]
                    CORE_DEFAULT_PROJECT_ID="p" * 255).default_project_id == "p" * 255


async def test_a_projector_500_outcome_is_answered_without_its_text() -> None:
    class Bus:  # stands in for Kafka and the projector: this outcome is what came back
        async def submit(self, *_args: object, **_kwargs: object) -> Response:
            return json_response(500, {"error": "server_error",
                                       "message": "value out of int64 range"})

    ctx = CommandContext(bus=Bus(), pool=None)  # type: ignore[arg-type]
    request = Request({"type": "http", "method": "POST", "path": "/api/v1/claims",
                       "headers": [], "query_string": b"", REQUEST_ID_KEY: "rid-7"})
    call = Call(request, "p", {})
    response = await ctx.submit(call, ctx.envelope(call, "claim.asserted", "u", {}))
    assert response.status_code == 500
    assert orjson.loads(bytes(response.body)) == {
        "error": "server_error", "message": "internal error", "request_id": "rid-7"}
