"""Concurrent lanes of partitions: a replay and a catch-up fold partition mod N in N lanes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def split(partitions: Iterable[int], lanes: int) -> list[set[int]]:
    """The non-empty lanes: partition p goes to lane p mod `lanes`."""
    groups = [{p for p in partitions if p % lanes == n} for n in range(lanes)]
    return [group for group in groups if group]


async def gather_all(*lanes: Coroutine[Any, Any, T]) -> list[T]:
    """Run `lanes` together; the first failure cancels the others and is raised as is."""
    tasks = [asyncio.ensure_future(work) for work in lanes]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
