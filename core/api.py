"""Composition root of an API process: builds pools, producer and routes in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commands.context import CommandContext
from commands.outcome_waiter import OutcomeWaiter
from commands.publisher import CommandBus
from commands.routes import command_routes
from core.db import create_pool
from core.kafka import new_producer
from core.routing import Dispatcher
from core.settings import Settings
from queries.routes import query_routes

log = logging.getLogger("core.api")


def create_api(settings: Settings) -> Starlette:
    state: dict[str, Dispatcher] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        dsn = settings.resolved_database_url()
        pool = await create_pool(dsn, max_size=settings.db_pool_max)
        producer = new_producer(settings)
        await producer.start()
        waiter = OutcomeWaiter(pool, dsn)
        await waiter.start()
        bus = CommandBus(producer, waiter, settings.events_topic, settings.command_timeout_ms / 1000)
        ctx = CommandContext(bus=bus, pool=pool)
        routes = command_routes(ctx) + query_routes(pool)
        state["dispatcher"] = Dispatcher(routes, settings.default_project_id)
        try:
            yield
        finally:
            await waiter.stop()
            await producer.stop()
            await pool.close()

    async def endpoint(request: Request) -> Response:
        return await state["dispatcher"](request)

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)],
                     lifespan=lifespan)
