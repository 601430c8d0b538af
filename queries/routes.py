"""The read side's routes and the scope each one needs."""

from __future__ import annotations

from typing import cast

import asyncpg

from kernel.access import AUTHENTICATED
from kernel.routing import RouteSpec
from queries.change_tailer import ChangeTailer
from queries.claims import claim_graph, claim_history, get_claim
from queries.command_status import command_status
from queries.memories import get_memory, list_memories, list_superseded
from queries.memory_claims import memory_claims
from queries.read_gate import GatedPool
from queries.recall import RecallEngine
from queries.recalls import list_recalls
from queries.search import RecallRecorder, search_memories
from queries.sse import memory_events
from queries.stream_slots import StreamLimits
from queries.subjects import list_subjects
from queries.timeline import subject_timeline
from queries.truth import subject_slot, subject_slots, subject_truth


def query_routes(pool: asyncpg.Pool, recall: RecallEngine,
                 record_recall: RecallRecorder | None = None,
                 read_concurrency: int | None = None) -> list[RouteSpec]:
    """`read_concurrency`: at most that many of these routes' queries at once
    (`queries.read_gate`); None leaves them the whole pool."""
    if read_concurrency is not None:
        pool = cast(asyncpg.Pool, GatedPool(pool, read_concurrency))
    return [
        RouteSpec("GET", "/api/v1/memories", list_memories(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/memories/search", search_memories(pool, recall, record_recall),
                  "memories:read"),
        RouteSpec("GET", "/api/v1/memories/superseded", list_superseded(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/memories/recalls", list_recalls(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/memories/{id}/claims", memory_claims(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/memories/{id}", get_memory(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/commands/{event_id}", command_status(pool), AUTHENTICATED),
        RouteSpec("GET", "/api/v1/subjects", list_subjects(pool), "memories:read"),
        RouteSpec("GET", "/api/v1/subjects/{subject_id}/timeline", subject_timeline(pool),
                  "events:read"),
        *claim_routes(pool),
    ]


def claim_routes(pool: asyncpg.Pool) -> list[RouteSpec]:
    subject = "/api/v1/claims/subject/{subject_id}"
    return [
        RouteSpec("GET", f"{subject}/truth", subject_truth(pool), "claims:read"),
        RouteSpec("GET", f"{subject}/slot/{{slot}}", subject_slot(pool), "claims:read"),
        RouteSpec("GET", f"{subject}/slots", subject_slots(pool), "claims:read"),
        RouteSpec("GET", f"{subject}/graph", claim_graph(pool), "claims:read"),
        RouteSpec("GET", f"{subject}/history", claim_history(pool), "claims:read"),
        RouteSpec("GET", "/api/v1/claims/{id}", get_claim(pool), "claims:read"),
    ]


def event_routes(tailer: ChangeTailer, limits: StreamLimits) -> list[RouteSpec]:
    """The SSE stream, served from this process's change tailer."""
    return [
        RouteSpec("GET", "/api/v1/events/memories", memory_events(tailer, limits),
                  "events:read", query_token=True),
    ]
