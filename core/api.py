"""Composition root of an API process: builds pools, producer and routes in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from commands.context import CommandContext
from commands.outcome_waiter import OutcomeWaiter
from commands.publisher import CommandBus
from commands.record_recall import recall_recorder
from commands.routes import command_routes
from core.admin_dead_letters import dead_letter_routes
from core.admin_replays import AsOfReplays
from core.auth.stream_tokens import stream_token_routes
from core.console import console_routes
from core.http_deadlines import BodyDeadline
from core.openapi import openapi_route
from core.security import build_guard
from core.telemetry.http import RequestTelemetry
from core.telemetry.routes import Operations
from kernel.ai.wiring import AIWiring, build_ai
from kernel.kafka import new_producer
from kernel.routing import Dispatcher
from kernel.schema_pools import PoolProxy, SchemaPools
from kernel.settings import Settings
from queries.change_tailer import ChangeTailer
from queries.recall import LLMRecall, RecallEngine, build_recall_engine
from queries.routes import event_routes, query_routes
from queries.stream_slots import StreamLimits

log = logging.getLogger("core.api")


def recall_engine(ai: AIWiring) -> RecallEngine:
    """The search engine of §3.1, announced once at start-up."""
    engine = build_recall_engine(ai.llm, ai.embedder, ai.config.use_retrieval_expand)
    expand = "enabled" if isinstance(engine, LLMRecall) else "disabled (simple mode)"
    logging.getLogger("core").info("retrieval expand: %s", expand)
    return engine


def create_api(settings: Settings) -> Starlette:
    state: dict[str, Dispatcher] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        dsn = settings.resolved_database_url()
        pools = SchemaPools(dsn, settings.db_pool_max)
        await pools.start()
        pool = cast(asyncpg.Pool, PoolProxy(pools))
        producer = new_producer(settings)
        await producer.start()
        waiter = OutcomeWaiter(pool, dsn)
        await waiter.start()
        bus = CommandBus(producer, waiter, settings.events_topic,
                         settings.command_timeout_ms / 1000)
        ai = build_ai(settings)
        recall = recall_engine(ai)
        ctx = CommandContext(bus=bus, pool=pool, embed=ai.embedder.embed,
                             extraction=ai.extraction)
        tailer = ChangeTailer.from_settings(settings)
        await tailer.start()
        ops = Operations(settings, pool, lambda: tailer.subscriber_count)
        routes = (command_routes(ctx) + query_routes(pool, recall, recall_recorder(ctx))
                  + event_routes(tailer, StreamLimits.from_settings(settings))
                  + ops.routes())
        replays = AsOfReplays(settings)
        routes += (replays.routes() + dead_letter_routes(settings)
                   + console_routes() + stream_token_routes(pool, settings.sse_token_ttl_s))
        routes.append(openapi_route(routes))
        guard, purger = build_guard(settings, pool, pools)
        state["dispatcher"] = Dispatcher(routes, settings.default_project_id, guard)
        replay_tasks = replays.start()
        try:
            yield
        finally:
            for task in replay_tasks:
                await task.stop()
            await purger.stop()
            await ops.close()
            await tailer.stop()
            await waiter.stop()
            await ai.aclose()
            await producer.stop()
            await pools.close()

    async def endpoint(request: Request) -> Response:
        return await state["dispatcher"](request)

    methods = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)],
                     lifespan=lifespan, middleware=[
                         Middleware(RequestTelemetry),
                         Middleware(BodyDeadline, timeout_s=settings.http_body_timeout_s)])
