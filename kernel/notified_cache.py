"""A per-process cache that Postgres clears: a trigger NOTIFYs a channel whenever the cached
rows change, and every notice (and every reconnect of the LISTEN connection, after which
notices may have been lost) empties the cache. While the connection is down nothing is
served from or stored in the cache; a value read while a notice arrived is not stored
(the generation moved)."""

from __future__ import annotations

from typing import Generic, TypeVar

from kernel.listener import Listener

K = TypeVar("K")
V = TypeVar("V")


class NotifiedCache(Generic[K, V]):
    def __init__(self, name: str, dsn: str, channel: str, max_entries: int) -> None:
        self.entries: dict[K, V] = {}
        self.generation = 0
        self.max_entries = max_entries
        self.listener = Listener(name, dsn, {channel: self._changed},
                                 on_reconnect=self._reconnected)

    def start(self) -> None:
        self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()

    @property
    def usable(self) -> bool:
        return self.listener.connected

    def get(self, key: K) -> V | None:
        return self.entries.get(key) if self.usable else None

    def put(self, key: K, value: V, since: int) -> None:
        """Store a value read when the generation was `since`, unless it moved since."""
        if since != self.generation or not self.usable:
            return
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[key] = value

    def _changed(self, _payload: str) -> None:
        self.generation += 1
        self.entries.clear()

    async def _reconnected(self) -> None:
        self._changed("")
