"""The write side's routes and the scope each one needs."""

from __future__ import annotations

from commands.context import CommandContext
from commands.create_memory import create_memory
from core.routing import RouteSpec


def command_routes(ctx: CommandContext) -> list[RouteSpec]:
    return [
        RouteSpec("POST", "/api/v1/memories", create_memory(ctx), "memories:write"),
    ]
