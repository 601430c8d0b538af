"""Reads `GET /api/v1/events/memories` frame by frame over a real HTTP stream (httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.system import System

EVENTS_PATH = "/api/v1/events/memories"


@dataclass(frozen=True)
class Frame:
    event: str
    raw_data: str
    id: str | None

    @property
    def data(self) -> Any:
        return json.loads(self.raw_data)


class EventReader:
    """Parses frames in a background task, so a timed-out wait never loses part of a frame.
    It reads at most a few frames ahead: a test that stops asking stops reading the socket."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.ended_cleanly = False  # the server finished the response (vs. a broken connection)
        self._frames: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=4)
        self._task = asyncio.create_task(self._parse())

    async def _parse(self) -> None:
        fields: dict[str, str] = {}
        with contextlib.suppress(httpx.HTTPError):
            async for line in self.response.aiter_lines():
                if line == "":
                    await self._frames.put(Frame(fields["event"], fields["data"], fields.get("id")))
                    fields = {}
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            self.ended_cleanly = True
        await self._frames.put(None)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task

    async def frame(self, timeout: float = 15) -> Frame | None:
        """The next frame, or None when the server ended the stream."""
        async with asyncio.timeout(timeout):
            return await self._frames.get()

    async def event(self, timeout: float = 15) -> Frame:
        """The next frame that is not a heartbeat."""
        deadline = time.monotonic() + timeout
        while True:
            found = await self.frame(max(deadline - time.monotonic(), 0.01))
            assert found is not None, "stream ended"
            if found.event != "heartbeat":
                return found

    async def events(self, count: int, timeout: float = 15) -> list[Frame]:
        return [await self.event(timeout) for _ in range(count)]

    async def quiet(self, seconds: float = 1.5) -> list[Frame]:
        """Every non-heartbeat frame that arrives within `seconds` (expected: none)."""
        seen: list[Frame] = []
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                found = await self.frame(left)
                if found is None:
                    break
                if found.event != "heartbeat":
                    seen.append(found)
        return seen


@contextlib.asynccontextmanager
async def open_stream(system: System, project: str, *, subject: str | None = None,
                      last_id: str | None = None,
                      include: str | None = None) -> AsyncIterator[EventReader]:
    headers = {"x-project-id": project, **({"Last-Event-ID": last_id} if last_id else {})}
    params = {k: v for k, v in (("subject_id", subject), ("include", include)) if v is not None}
    async with system.client() as client, client.stream(
            "GET", EVENTS_PATH, headers=headers, params=params, timeout=None) as response:
        reader = EventReader(response)
        try:
            yield reader
        finally:
            await reader.close()
