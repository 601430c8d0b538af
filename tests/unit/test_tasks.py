"""Owned background tasks: a dying loop is restarted and counted; one-shot failures are
logged, and nothing is left running after stop/cancel."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from kernel.tasks import SupervisedTask, TaskSet

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
