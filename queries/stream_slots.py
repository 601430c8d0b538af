"""Caps on the open SSE streams of one API process: per project, per principal, in total.

A slot is checked and taken in one synchronous step when the request is admitted (so
concurrent opens cannot overshoot a cap), and given back when the response ends, however
it ends. A refused stream gets 429 `too_many_subscribers` with the cap it hit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from kernel.metrics import SSE_REFUSED
from kernel.settings import Settings


@dataclass(frozen=True)
class StreamLimits:
    heartbeat_s: float = 30.0
    per_project: int = 2000
    per_principal: int = 100
    per_process: int = 5000
    catchup_max: int = 10_000
    recheck_s: float = 15.0
    """How often an open stream checks that its credential is still valid."""

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        return cls(settings.sse_heartbeat_ms / 1000, settings.sse_max_per_project,
                   settings.sse_max_per_principal, settings.sse_max_per_process,
                   settings.sse_catchup_max, settings.sse_recheck_ms / 1000)


@dataclass(frozen=True)
class Refusal:
    cap: str
    limit: int


class StreamSlots:
    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self.total = 0
        self._projects: Counter[str] = Counter()
        self._principals: Counter[str] = Counter()

    def take(self, project_id: str, principal: str) -> Refusal | None:
        """Takes a slot, or says which cap is full (and takes nothing)."""
        refusal = self._refusal(project_id, principal)
        if refusal is not None:
            SSE_REFUSED.labels(refusal.cap).inc()
            return refusal
        self.total += 1
        self._projects[project_id] += 1
        self._principals[principal] += 1
        return None

    def _refusal(self, project_id: str, principal: str) -> Refusal | None:
        limits = self.limits
        if self.total >= limits.per_process:
            return Refusal("process", limits.per_process)
        if self._principals[principal] >= limits.per_principal:
            return Refusal("principal", limits.per_principal)
        if self._projects[project_id] >= limits.per_project:
            return Refusal("project", limits.per_project)
        return None

    def give_back(self, project_id: str, principal: str) -> None:
        self.total -= 1
        for counts, key in ((self._projects, project_id), (self._principals, principal)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]


class SlotResponse(EventSourceResponse):
    """An SSE response that gives its slot back when it ends (finished, cut off, failed)."""

    def __init__(self, release: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
