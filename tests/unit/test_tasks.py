"""Owned background tasks: a dying loop is restarted and counted; one-shot failures are
logged, and nothing is left running after stop/cancel."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from kernel.tasks import SupervisedTask, TaskSet, drain_when_woken

pytestmark = pytest.mark.unit


def restarts(name: str) -> float:
    return REGISTRY.get_sample_value("core_background_task_restarts_total",
                                     {"task": name}) or 0.0


async def test_a_dying_task_is_restarted_and_counted() -> None:
    runs: list[int] = []
    healthy = asyncio.Event()

    async def job() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("boom")
        healthy.set()
        await asyncio.Event().wait()

    task = SupervisedTask("unit-dying", job, first_delay_s=0.01).start()
    await asyncio.wait_for(healthy.wait(), 5)
    assert len(runs) == 3 and task.restarts == 2 and restarts("unit-dying") == 2
    await task.stop()
    assert task.task is None


async def test_a_returning_task_counts_as_a_death() -> None:
    done = asyncio.Event()
    calls: list[int] = []

    async def job() -> None:
        calls.append(1)
        if len(calls) == 2:
            done.set()
            await asyncio.Event().wait()

    task = SupervisedTask("unit-returning", job, first_delay_s=0.01).start()
    await asyncio.wait_for(done.wait(), 5)
    assert task.restarts == 1
    await task.stop()


async def test_task_set_holds_and_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("unit")

    async def fail() -> None:
        raise ValueError("lost?")

    async def forever() -> None:
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="core.tasks"):
        failing = tasks.spawn(fail())
        waiting = tasks.spawn(forever())
        await asyncio.gather(failing, return_exceptions=True)
        await asyncio.sleep(0)
    assert "unit task failed" in caplog.text and "lost?" in caplog.text
    assert tasks.tasks == {waiting}
    await tasks.cancel()
    assert waiting.cancelled() and not tasks.tasks


async def test_a_wake_during_a_drain_starts_the_next_drain_at_once() -> None:
    wakeup = asyncio.Event()
    drains: list[int] = []
    second = asyncio.Event()

    async def drain() -> None:
        drains.append(len(drains))
        if len(drains) == 1:
            wakeup.set()  # new work announced while this drain runs
        else:
            second.set()

    task = asyncio.create_task(drain_when_woken("t", drain, wakeup, idle_poll_s=60,
                                                max_backoff_s=60))
    try:
        await asyncio.wait_for(second.wait(), 5)  # not after the 60 s idle poll
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert drains[:2] == [0, 1]


async def test_wakes_do_not_cut_a_failure_backoff_short() -> None:
    wakeup = asyncio.Event()
    third = asyncio.Event()
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()
        wakeup.set()  # a wake on every attempt must not turn the backoff into a hot loop
        raise RuntimeError("down")

    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(drain_when_woken("t", failing, wakeup, idle_poll_s=0.2,
                                                max_backoff_s=0.2))
    try:
        await asyncio.wait_for(third.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert loop.time() - started >= 0.39  # two full backoffs passed before the third try


async def test_the_idle_poll_doubles_while_nothing_wakes_the_loop() -> None:
    loop = asyncio.get_running_loop()
    wakeup, done = asyncio.Event(), asyncio.Event()
    times: list[float] = []

    async def drain() -> None:
        times.append(loop.time())
        if len(times) == 5:
            done.set()

    task = asyncio.create_task(drain_when_woken("unit-idle", drain, wakeup, idle_poll_s=0.01,
                                                max_backoff_s=0.04))
    try:
        await asyncio.wait_for(done.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # a wait never ends (much) before its timeout: 0.01, 0.02, 0.04, then capped at 0.04
    assert [g >= 0.9 * least for g, least in zip(gaps, (0.01, 0.02, 0.04, 0.04), strict=True)] \
        == [True] * 4, gaps
