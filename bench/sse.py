"""SSE fan-out: N subscribers on one project each receive every `memory.created`, while
writes are paced at a fixed rate. Delivery latency runs from the command's acceptance (its
202) to the frame's arrival; the write's sequence number travels in the memory text."""

from __future__ import annotations

import asyncio
import re
import time

from bench.client import Connection, Target
from bench.context import Bench
from bench.driver import paced
from bench.stats import summarize
from bench.writes import memory_body

MARK = re.compile(rb'"text":"sse (\w+) (\d+)"')
CONNECTED = b"event: connected"


class Subscriber(asyncio.Protocol):
    """Counts frames straight off the socket (chunk framing is ignored: markers suffice)."""

    def __init__(self, run_id: str, arrivals: list[tuple[int, int]],
                 connected: asyncio.Event, waiting: list[int]) -> None:
        self.run_id, self.arrivals = run_id.encode(), arrivals
        self.connected, self.waiting = connected, waiting
        self.buffer, self.seen_connected, self.closed = b"", False, False

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        self.buffer += data
        cut = self.buffer.rfind(b"\n\n")
        if cut < 0:
            return
        ready, self.buffer = self.buffer[:cut], self.buffer[cut + 2:]
        if not self.seen_connected and CONNECTED in ready:
            self.seen_connected = True
            self.waiting[0] -= 1
            if self.waiting[0] == 0:
                self.connected.set()
        for found in MARK.finditer(ready):
            if found.group(1) == self.run_id:
                self.arrivals.append((int(found.group(2)), now))

    def connection_lost(self, _exc: Exception | None) -> None:
        self.closed = True


async def subscribe(target: Target, project: str, protocol: Subscriber) -> asyncio.Transport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: protocol, target.host, target.port)
    transport.write(f"GET /api/v1/events/memories HTTP/1.1\r\nx-project-id: {project}\r\n"
                    "accept: text/event-stream\r\n".encode() + target.headers + b"\r\n")
    return transport  # type: ignore[return-value]


async def run_sse(bench: Bench) -> None:
    opts, project = bench.options, f"bench-{bench.run_id}-sse"
    arrivals: list[tuple[int, int]] = []
    connected, waiting = asyncio.Event(), [opts.sse_subscribers]
    subscribers = [Subscriber(bench.run_id, arrivals, connected, waiting)
                   for _ in range(opts.sse_subscribers)]
    transports = []
    for chunk in range(0, len(subscribers), 100):
        transports += await asyncio.gather(*(subscribe(bench.target, project, s)
                                             for s in subscribers[chunk:chunk + 100]))
    try:
        await asyncio.wait_for(connected.wait(), 60)
        accepted = await _write(bench, project)
        await asyncio.sleep(2.0)  # the last deliveries
    finally:
        for transport in transports:
            transport.close()
    _record(bench, arrivals, accepted, sum(s.closed for s in subscribers))


async def _write(bench: Bench, project: str) -> dict[int, int]:
    opts, accepted = bench.options, {}
    headers = f"x-project-id: {project}\r\nprefer: respond-async\r\n".encode()
    conns: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(32):
        conns.put_nowait(Connection(bench.target))

    async def send(seq: int) -> None:
        conn = await conns.get()
        try:
            body = memory_body(bench.run_id, seq, opts.subjects, seq,
                               text=f"sse {bench.run_id} {seq}")
            status, _ = await conn.request("POST", "/api/v1/memories", body, headers)
            if status == 202:
                accepted[seq] = time.perf_counter_ns()
        finally:
            conns.put_nowait(conn)

    await paced(opts.sse_rate, opts.duration_s, send)
    while not conns.empty():
        conns.get_nowait().close()
    return accepted


def _record(bench: Bench, arrivals: list[tuple[int, int]], accepted: dict[int, int],
            dropped: int) -> None:
    opts = bench.options
    latencies = [max(0, at - accepted[seq]) / 1e9 for seq, at in arrivals if seq in accepted]
    expected = len(accepted) * opts.sse_subscribers
    scenario = summarize(f"sse.{opts.sse_subscribers}x{opts.sse_rate:g}", "sse", latencies,
                         max(0, expected - len(latencies)), opts.duration_s,
                         opts.sse_subscribers, unit="deliveries/s", writes_accepted=len(accepted),
                         expected_deliveries=expected, disconnected=dropped)
    bench.record(scenario)
