"""Closed-loop load: `concurrency` clients, each on its own connection, sending one request
after the other until the duration or the request budget runs out (both always bounded)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.client import Connection, Target

Request = Callable[[Connection, int], Awaitable[bool]]
"""One operation of client `n`: True when it succeeded (an exception counts as an error)."""


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""


async def drive(target: Target, concurrency: int, duration_s: float, max_requests: int,
                operation: Request) -> Run:
    run, budget = Run(), [max_requests]
    deadline = time.perf_counter() + duration_s

    async def client(n: int) -> None:
        conn = Connection(target)
        try:
            while budget[0] > 0 and time.perf_counter() < deadline:
                budget[0] -= 1
                await _once(run, conn, n, operation)
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


async def _once(run: Run, conn: Connection, n: int, operation: Request) -> None:
    began = time.perf_counter()
    try:
        ok = await operation(conn, n)
    except Exception as exc:  # a refused or broken connection is an error, not a crash
        ok = False
        run.first_error = run.first_error or repr(exc)
    if ok:
        run.latencies.append(time.perf_counter() - began)
    else:
        run.errors += 1


async def paced(rate: float, duration_s: float, send: Callable[[int], Awaitable[None]],
                in_flight_max: int = 256) -> int:
    """Open loop: start `send(i)` at `rate` per second for `duration_s`; returns the count."""
    slots = asyncio.Semaphore(in_flight_max)
    tasks: list[asyncio.Task[None]] = []
    started, total = time.perf_counter(), int(rate * duration_s)

    async def one(i: int) -> None:
        try:
            await send(i)
        finally:
            slots.release()

    for i in range(total):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks, return_exceptions=True)
    return total
