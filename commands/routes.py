"""The write side's routes and the scope each one needs."""

from __future__ import annotations

from commands.assert_claim import assert_claim
from commands.context import CommandContext
from commands.create_memory import create_memory
from commands.delete_memory import delete_memory
from commands.extract_memories import extract_memories
from commands.forget_subject import forget_subject
from commands.patch_memory import patch_memory
from commands.restore_memory import restore_memory
from commands.retract_claim import retract_claim
from kernel.routing import RouteSpec


def command_routes(ctx: CommandContext) -> list[RouteSpec]:
    return [
        RouteSpec("POST", "/api/v1/memories", create_memory(ctx), "memories:write"),
        RouteSpec("PATCH", "/api/v1/memories/{id}", patch_memory(ctx), "memories:write"),
        RouteSpec("DELETE", "/api/v1/memories/{id}", delete_memory(ctx), "memories:write"),
        RouteSpec("POST", "/api/v1/memories/{id}/restore", restore_memory(ctx),
                  "memories:write"),
        RouteSpec("POST", "/api/v1/memories/extract", extract_memories(ctx), "memories:write"),
        RouteSpec("POST", "/api/v1/claims", assert_claim(ctx), "claims:write"),
        RouteSpec("POST", "/api/v1/claims/{id}/retract", retract_claim(ctx), "claims:write"),
        RouteSpec("DELETE", "/api/v1/subjects/{subject_id}", forget_subject(ctx),
                  "subjects:forget"),
    ]
