"""Background tasks with an owner: nothing runs unreferenced, and a death is visible.

`SupervisedTask` keeps a long-running loop alive: when it ends or raises, the death is
logged and counted (`core_background_task_restarts_total`) and the loop is restarted with
bounded backoff. `TaskSet` holds short one-shot tasks until they finish and logs failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from kernel.metrics import BACKGROUND_TASK_RESTARTS

log = logging.getLogger("core.tasks")
Job = Callable[[], Coroutine[Any, Any, None]]
HEALTHY_AFTER_S = 30.0


class SupervisedTask:
    def __init__(self, name: str, job: Job, *, first_delay_s: float = 0.1,
                 max_delay_s: float = 5.0) -> None:
        self.name = name
        self.job = job
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.restarts = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> SupervisedTask:
        self.task = asyncio.get_running_loop().create_task(self._keep_running(), name=self.name)
        return self

    async def stop(self) -> None:
        if self.task is None:
            return
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        self.task = None

    async def _keep_running(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.first_delay_s
        while True:
            started = loop.time()
            try:
                await self.job()
                log.error("background task %s returned; restarting it", self.name)
            except Exception:
                log.exception("background task %s died; restarting in %.1fs", self.name, delay)
            self.restarts += 1
            BACKGROUND_TASK_RESTARTS.labels(self.name).inc()
            if loop.time() - started > HEALTHY_AFTER_S:
                delay = self.first_delay_s
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)


class TaskSet:
    """Holds one-shot tasks until they finish; a failure is logged, never lost."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, job: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(job)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task failed", self.name, exc_info=task.exception())

    async def cancel(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def drain_when_woken(name: str, drain: Callable[[], Awaitable[object]],
                           wakeup: asyncio.Event, *, idle_poll_s: float, max_backoff_s: float,
                           healthy: Callable[[bool], None] = lambda _ok: None) -> None:
    """Forever: run `drain`, then wait for `wakeup` or the idle poll. A wake that arrives
    while `drain` runs starts the next drain at once (nothing it announced waits for a poll).
    The poll only catches work nobody woke this loop for (another process's leftovers), so
    while nothing wakes it, it doubles from `idle_poll_s` up to `max_backoff_s`; a wake
    resets it. A failure is logged, reported through `healthy(False)` and retried after a
    backoff that doubles up to `max_backoff_s` (wakes do not cut it short); a success resets
    it."""
    backoff = idle = idle_poll_s
    while True:
        wakeup.clear()
        wait = idle
        try:
            await drain()
            healthy(True)
            backoff = idle_poll_s
        except Exception as exc:
            healthy(False)
            log.warning("%s failed, retrying in %.1fs: %r", name, backoff, exc)
            backoff = wait = min(backoff * 2, max_backoff_s)
            wakeup.clear()
        try:
            await asyncio.wait_for(wakeup.wait(), wait)
            idle = idle_poll_s
        except TimeoutError:
            idle = min(idle * 2, max_backoff_s)
