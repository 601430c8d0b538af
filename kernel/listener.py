"""A LISTEN connection that comes back after Postgres restarts.

One dedicated asyncpg connection LISTENs on a few channels. Its loss is seen at once when the
socket closes (a termination listener) and otherwise by a cheap `SELECT 1` every
`check_every_s` (a half-open connection, a frozen server). Each connection is one run of a
`SupervisedTask`: a loss ends the run, the task reconnects with bounded backoff (0.1 s → 5 s)
and LISTENs again. NOTIFYs sent while no connection listens are lost for good, so after
every connection (the first included) the owner's `on_reconnect` hook runs to catch up, e.g.
by reading the table the notices announce.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

import asyncpg

from kernel.metrics import LISTENER_UP
from kernel.tasks import SupervisedTask

Handler = Callable[[str], None]
"""Receives the payload of one notice; runs on the event loop, so it must not block."""
Hook = Callable[[], Awaitable[None]]


class ListenerLost(ConnectionError):
    pass


async def _nothing() -> None:
    return None


class Listener:
    def __init__(self, name: str, dsn: str, handlers: Mapping[str, Handler], *,
                 on_reconnect: Hook = _nothing, check_every_s: float = 5.0) -> None:
        self.name = name
        self.dsn = dsn
        self.handlers = dict(handlers)
        self.on_reconnect = on_reconnect
        self.check_every_s = check_every_s
        self.connections = 0
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._set_connected(False)
        self.task = SupervisedTask(f"listener-{name}", self._listen)

    @property
    def application(self) -> str:
        """The connection's `application_name`, as seen in `pg_stat_activity`."""
        return f"core-listener-{self.name}"

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def start(self) -> None:
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def until_connected(self) -> None:
        await self._up.wait()

    async def until_down(self) -> None:
        await self._down.wait()

    def _set_connected(self, up: bool) -> None:
        (self._up if up else self._down).set()
        (self._down if up else self._up).clear()
        LISTENER_UP.labels(self.name).set(1 if up else 0)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.dsn, timeout=self.check_every_s,
                                     server_settings={"application_name": self.application})
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel, handler in self.handlers.items():
                await conn.add_listener(channel, _adapt(handler))
            self.connections += 1
            self._set_connected(True)
            await self.on_reconnect()
            await self._watch(conn, lost)
        finally:
            self._set_connected(False)
            conn.terminate()

    async def _watch(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Returns never: raises once the connection is gone or stops answering."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self.check_every_s)
            if not lost.is_set():
                await conn.execute("SELECT 1", timeout=self.check_every_s)
        raise ListenerLost(f"LISTEN connection of {self.name} lost")


def _adapt(handler: Handler) -> Callable[[object, int, str, str], None]:
    def on_notify(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        handler(payload)

    return on_notify
