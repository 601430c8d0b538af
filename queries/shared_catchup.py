"""Catch-up reads shared by the SSE streams of one API process.

A stream resuming with `Last-Event-ID` needs the changes between that position and the live
position where its subscription started. Streams resuming from the same position share one
read (one Kafka consumer): it keeps what it read in memory, each stream follows it from the
first record at its own pace, and a stream that joins while it runs raises its end to the
stream's own live start. A finished read still serves a newcomer whose live start it covers,
for as long as any stream is following it and `LINGER_S` after that.

Bounded: a stream more than `CORE_SSE_CATCHUP_MAX` changes behind (`changes_behind`) gets
`reset` instead of a read, so one read holds at most about that many records.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from kernel.metrics import SSE_CATCHUP_READS
from kernel.shredding import Opener
from kernel.tasks import TaskSet
from queries.change_catchup import CatchUpReader
from queries.change_feed import FeedChange, decode_change

LINGER_S = 2.0


def changes_behind(start: Sequence[int], live: Sequence[int]) -> int:
    """How many records lie between a resume position and the live position."""
    return sum(max(end - begin, 0) for begin, end in zip(start, live, strict=True))


class CatchUpFailed(Exception):
    """The shared read broke off (Kafka error): the stream ends and the client resumes."""


@dataclass(frozen=True)
class Missed:
    partition: int
    offset: int
    change: FeedChange | None


class SharedRead:
    def __init__(self, start: tuple[int, ...], stop: Sequence[int]) -> None:
        self.start, self.stop = start, list(stop)
        self.records: list[Missed] = []
        self.available: bool | None = None
        self.done = self.failed = False
        self.followers = 0
        self._changed = asyncio.Event()

    def covers(self, stop: Sequence[int]) -> bool:
        """Whether a stream whose live part starts at `stop` can follow this read."""
        if not self.done:
            return True
        return bool(self.available) and not self.failed and all(map(int.__le__, stop, self.stop))

    def extend(self, stop: Sequence[int]) -> None:
        if not self.done:
            self.stop[:] = map(max, self.stop, stop)  # in place: the running read sees it

    async def is_available(self) -> bool:
        while self.available is None and not self.done:
            await self._changed.wait()
        if self.failed:
            raise CatchUpFailed
        return bool(self.available)

    async def follow(self) -> AsyncIterator[Missed]:
        """Every record of the read, from the first, waiting for more until it is done."""
        index = 0
        while True:
            while index < len(self.records):
                yield self.records[index]
                index += 1
            if self.failed:
                raise CatchUpFailed
            if self.done:
                return
            await self._changed.wait()

    def checked(self, available: bool) -> None:
        self.available = available
        self._notify()

    def add(self, record: Missed) -> None:
        self.records.append(record)
        self._notify()

    def finish(self, failed: bool) -> None:
        self.done, self.failed = True, failed
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class CatchUps:
    """The running and recently finished catch-up reads of one process, by start position."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._reads: dict[tuple[int, ...], SharedRead] = {}
        self._tasks = TaskSet("sse-catch-up")
        self._running: dict[SharedRead, asyncio.Task[None]] = {}
        self.opener: Opener | None = None

    @contextlib.asynccontextmanager
    async def join(self, start: tuple[int, ...], stop: Sequence[int]) -> AsyncIterator[SharedRead]:
        read = self._reads.get(start)
        if read is None or not read.covers(stop):
            read = self._reads[start] = SharedRead(start, stop)
            self._running[read] = self._tasks.spawn(self._run(read))
        read.extend(stop)
        read.followers += 1
        try:
            yield read
        finally:
            read.followers -= 1
            if not read.followers:
                self._idle(read)

    def _idle(self, read: SharedRead) -> None:
        task = self._running.pop(read, None)
        if task is not None:  # nobody follows it any more
            task.cancel()
            self._forget(read)
            return
        asyncio.get_running_loop().call_later(LINGER_S, self._forget, read)

    def _forget(self, read: SharedRead) -> None:
        if self._reads.get(read.start) is read and not read.followers:
            del self._reads[read.start]

    async def _run(self, read: SharedRead) -> None:
        failed = True
        try:
            async with CatchUpReader(self.bootstrap, self.topic, len(read.start)) as reader:
                SSE_CATCHUP_READS.inc()
                read.checked(await reader.available(read.start))
                if read.available:
                    async for record in reader.read(read.start, read.stop):
                        value = record.value
                        if self.opener is not None:
                            value = (await self.opener([value]))[0]
                        read.add(Missed(record.partition, record.offset, decode_change(value)))
            failed = False
        finally:
            self._running.pop(read, None)
            read.finish(failed)

    async def close(self) -> None:
        await self._tasks.cancel()
