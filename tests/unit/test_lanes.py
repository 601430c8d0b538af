"""Lanes of partitions for replays and catch-ups (projections.lanes)."""

from __future__ import annotations

import asyncio

import pytest

from projections.lanes import gather_all, split


def test_each_partition_goes_to_exactly_one_lane_by_its_number() -> None:
    lanes = split(range(12), 2)
    assert lanes == [{0, 2, 4, 6, 8, 10}, {1, 3, 5, 7, 9, 11}]
    assert split([3, 5], 2) == [{3, 5}]  # no empty lane
    assert split([], 2) == []


async def test_results_come_in_lane_order() -> None:
    async def lane(n: int) -> int:
        return n

    assert await gather_all(lane(1), lane(2)) == [1, 2]


async def test_a_failing_lane_cancels_the_other_and_its_error_is_raised_as_is() -> None:
    started, never = asyncio.Event(), asyncio.Event()
    cancelled = False

    async def waits() -> None:
        nonlocal cancelled
        started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled = True
            raise

    async def fails() -> None:
        await started.wait()
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await gather_all(waits(), fails())
    assert cancelled
