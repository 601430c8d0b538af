"""Composition root of an API process: builds pools, producer and routes in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from commands.context import CommandContext
from commands.outcome_waiter import OutcomeWaiter
from commands.publisher import CommandBus
from commands.record_recall import recall_recorder
from commands.routes import command_routes
from core.admin_dead_letters import dead_letter_routes
from core.admin_replays import AsOfReplays
from core.auth.key_cache import KeyCache
from core.auth.stream_tokens import stream_token_routes
from core.batch_routes import BatchLimits, batch_routes
from core.console import console_routes
from core.http_deadlines import BodyDeadline
from core.openapi import openapi_route
from core.security import build_guard
from core.telemetry.http import RequestTelemetry
from core.telemetry.routes import Operations
from kernel.ai.wiring import AIWiring, build_ai
from kernel.heap import settle_heap
from kernel.kafka import new_producer
from kernel.routing import Dispatcher
from kernel.schema_pools import PoolProxy, SchemaPools
from kernel.settings import Settings
from kernel.shredding import KeyRing
from kernel.telemetry import tracing
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


def create_api(settings: Settings) -> Edge:
    state: dict[str, Dispatcher] = {}
    tracing.setup("core-api")

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
        ring = KeyRing.from_settings(settings)
        if ring is not None:
            ring.listen(dsn)
        bus = CommandBus(producer, waiter, settings.events_topic,
                         settings.command_timeout_ms / 1000,
                         seal=ring.sealer(pool) if ring else None)
        ai = build_ai(settings)
        recall = recall_engine(ai)
        ctx = CommandContext(bus=bus, pool=pool, embed=ai.embedder.embed,
                             extraction=ai.extraction, embed_many=ai.embedder.embed_many)
        tailer = ChangeTailer.from_settings(settings)
        if ring is not None:
            tailer.use_opener(ring.opener(pool))
        await tailer.start()
        ops = Operations(settings, pool, lambda: tailer.subscriber_count)
        keys = KeyCache(pool, dsn)
        keys.start()
        guard, purger = build_guard(settings, pool, pools, keys)
        routes = (command_routes(ctx) + query_routes(pool, recall, recall_recorder(ctx))
                  + event_routes(tailer, StreamLimits.from_settings(settings))
                  + ops.routes()
                  + batch_routes(ctx, guard.idempotency, BatchLimits.from_settings(settings)))
        replays = AsOfReplays(settings)
        routes += (replays.routes() + dead_letter_routes(settings)
                   + console_routes() + stream_token_routes(pool, settings.sse_token_ttl_s))
        routes.append(openapi_route(routes))
        state["dispatcher"] = Dispatcher(routes, settings.default_project_id, guard)
        replay_tasks = replays.start()
        settle_heap()
        try:
            yield
        finally:
            for task in replay_tasks:
                await task.stop()
            await purger.stop()
            await keys.stop()
            await ops.close()
            await tailer.stop()
            await waiter.stop()
            if ring is not None and ring.live is not None:
                await ring.live.stop()
            await ai.aclose()
            await producer.stop()
            await pools.close()

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        response = await state["dispatcher"](Request(scope, receive, send))
        await response(scope, receive, send)

    http: ASGIApp = RequestTelemetry(BodyDeadline(endpoint,
                                                  timeout_s=settings.http_body_timeout_s))
    for layer in reversed(tracing.asgi_middleware()):  # none when traces are off
        http = layer.cls(http, *layer.args, **layer.kwargs)
    return Edge(http, Starlette(lifespan=lifespan))


class Edge:
    """The API as one ASGI callable: HTTP goes through request telemetry and the body
    deadline straight to the dispatcher, which answers every error itself — Starlette's
    router and exception middleware layers cost CPU on every request and add nothing here;
    Starlette runs the lifespan."""

    def __init__(self, http: ASGIApp, lifespan_app: Starlette) -> None:
        self.http, self.lifespan_app = http, lifespan_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.lifespan_app(scope, receive, send)
