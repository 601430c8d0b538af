"""Composition root of an API process: builds pools, producer and routes in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commands.context import CommandContext, Embed
from commands.outcome_waiter import OutcomeWaiter
from commands.publisher import CommandBus
from commands.routes import command_routes
from core.ai.embeddings import Embedder
from core.db import create_pool
from core.kafka import new_producer
from core.routing import Dispatcher
from core.security import build_guard
from core.settings import Settings
from queries.change_tailer import ChangeTailer
from queries.routes import event_routes, query_routes

log = logging.getLogger("core.api")


EMBEDDING_DIMENSIONS = 1536


def fixed_dimension(embed: Callable[[str], Awaitable[list[float]]]) -> Embed:
    """A vector of another size cannot be stored in VECTOR(1536): treat it as no embedding."""

    async def checked(text: str) -> list[float]:
        vector = await embed(text)
        if vector and len(vector) != EMBEDDING_DIMENSIONS:
            log.warning("embedding has %d dimensions, expected %d; ignoring it", len(vector),
                        EMBEDDING_DIMENSIONS)
            return []
        return vector

    return checked


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
        embedder = Embedder(settings.openai_api_key, settings.openai_embed_model,
                            settings.openai_base_url or None, settings.embed_timeout_ms / 1000)
        ctx = CommandContext(bus=bus, pool=pool, embed=fixed_dimension(embedder.embed))
        tailer = ChangeTailer.from_settings(settings)
        await tailer.start()
        routes = (command_routes(ctx) + query_routes(pool)
                  + event_routes(tailer, settings.sse_heartbeat_ms))
        guard, purger = build_guard(settings, pool)
        state["dispatcher"] = Dispatcher(routes, settings.default_project_id, guard)
        try:
            yield
        finally:
            purger.cancel()
            await tailer.stop()
            await waiter.stop()
            await embedder.aclose()
            await producer.stop()
            await pool.close()

    async def endpoint(request: Request) -> Response:
        return await state["dispatcher"](request)

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)],
                     lifespan=lifespan)
