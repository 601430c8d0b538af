"""Slow clients and too many streams (issue item 3), against a real `core serve`.

Process `guarded` gives a request 1 s for its headers and 1 s for its body, and allows
2 SSE streams per principal and 3 per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import orjson
import pytest

from core.auth.api_keys import create_key
from tests.support.sse_reader import EVENTS_PATH
from tests.support.system import System

pytestmark = pytest.mark.integration
TOO_MANY = "too_many_subscribers"


@pytest.fixture(scope="module")
def guarded(system: System) -> Iterator[System]:
    started = system.start_replica({
        "CORE_HTTP_HEADER_TIMEOUT_S": "1", "CORE_HTTP_BODY_TIMEOUT_S": "1",
        "CORE_SSE_MAX_PER_PRINCIPAL": "2", "CORE_SSE_MAX_PER_PROCESS": "3",
        "CORE_SSE_HEARTBEAT_MS": "300"})
    try:
        yield started
    finally:
        started.stop()


async def new_key(system: System) -> str:
    conn = await asyncpg.connect(system.dsn)
    try:
        _, key = await create_key(conn, name="slow-clients", projects=["*"],
                                  scopes=["events:read", "memories:read"])
        return key
    finally:
        await conn.close()


async def is_closed(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            while await reader.read(1024):
                pass
        return True
    except (TimeoutError, ConnectionError):
        return False


async def test_partial_headers_are_cut_off_while_health_answers(guarded: System) -> None:
    partials = [b"", b"GET /hea", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1"]
    opened = time.monotonic()
    conns = [await asyncio.open_connection("127.0.0.1", guarded.port) for _ in range(60)]
    for i, (_, writer) in enumerate(conns):
        writer.write(partials[i % len(partials)])
        await writer.drain()
    async with guarded.client() as client:
        asked = time.monotonic()
        health = await client.get("/health")
        assert health.status_code == 200 and time.monotonic() - asked < 1
    for reader, _ in conns:
        assert await is_closed(reader, within=max(opened + 4 - time.monotonic(), 0.01))
    assert time.monotonic() - opened < 4
    for _, writer in conns:
        writer.close()


async def test_incomplete_body_gets_408(guarded: System) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", guarded.port)
    writer.write(b"POST /api/v1/memories HTTP/1.1\r\nHost: x\r\n"
                 + f"x-api-key: {guarded.api_key}\r\n".encode()
                 + b"x-project-id: slow\r\ncontent-type: application/json\r\n"
                 b"content-length: 100\r\n\r\n{\"subject_id\": ")
    await writer.drain()
    started = time.monotonic()
    async with asyncio.timeout(5):
        answer = await reader.read()  # to EOF: the server closes the connection
    assert time.monotonic() - started < 4
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and orjson.loads(body) == {
        "error": "request_timeout"}
    writer.close()


async def test_a_complete_slow_body_is_still_served(guarded: System) -> None:
    async def slow_body() -> AsyncIterator[bytes]:
        yield b'{"subject_id": "u", '
        await asyncio.sleep(0.5)
        yield b'"text": "slow but in time"}'

    async with guarded.client() as client:
        response = await client.post("/api/v1/memories", content=slow_body(),
                                     headers={"x-project-id": f"slow-{uuid.uuid4().hex[:8]}"})
    assert response.status_code in (201, 202), response.text


@dataclass
class Stream:
    response: httpx.Response
    lines: AsyncIterator[str]

    @property
    def status_code(self) -> int:
        return self.response.status_code

    async def heartbeat(self) -> None:
        async with asyncio.timeout(5):
            while await self.lines.__anext__() != "event: heartbeat":
                pass


@contextlib.asynccontextmanager
async def stream(system: System, key: str) -> AsyncIterator[Stream]:
    """A stream of a new project (so only the principal and process caps apply)."""
    headers = {"x-api-key": key, "x-project-id": f"p-{uuid.uuid4().hex[:8]}"}
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client, \
            client.stream("GET", EVENTS_PATH, headers=headers) as response:
        opened = Stream(response, response.aiter_lines())
        if response.status_code == 200:
            assert await opened.lines.__anext__() == "event: connected"
        else:
            await response.aread()
        yield opened


async def open_eventually(system: System, key: str, stack: contextlib.AsyncExitStack,
                          timeout: float = 10) -> Stream:
    """A stream that may have to wait for the slot of one just closed (released when the
    server notices the disconnect)."""
    deadline = time.monotonic() + timeout
    while True:
        async with contextlib.AsyncExitStack() as attempt:
            response = await attempt.enter_async_context(stream(system, key))
            if response.status_code == 200 or time.monotonic() > deadline:
                await stack.enter_async_context(attempt.pop_all())
                return response
        await asyncio.sleep(0.1)


async def test_streams_per_principal_are_capped(guarded: System) -> None:
    key, other = await new_key(guarded), await new_key(guarded)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            assert (await open_eventually(guarded, key, stack)).status_code == 200
        async with stream(guarded, key) as third:  # another project: the cap is per caller
            assert third.status_code == 429
            assert third.response.json() == {"error": TOO_MANY, "limit": 2}
        others = await open_eventually(guarded, other, stack)
        assert others.status_code == 200
        await asyncio.sleep(1.5)  # longer than the header and body deadlines: streams live on
        await others.heartbeat()
    async with contextlib.AsyncExitStack() as stack:  # closed streams gave their slots back
        assert (await open_eventually(guarded, key, stack)).status_code == 200


async def test_streams_per_process_are_capped(guarded: System) -> None:
    keys = [await new_key(guarded) for _ in range(4)]
    async with contextlib.AsyncExitStack() as stack:
        for key in keys[:3]:
            assert (await open_eventually(guarded, key, stack)).status_code == 200
        async with stream(guarded, keys[3]) as fourth:
            assert fourth.status_code == 429
            assert fourth.response.json() == {"error": TOO_MANY, "limit": 3}
