"""Waiting on conditions, never on time: poll a probe until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

Probe = Callable[[], Any | Awaitable[Any]]


async def wait_until(probe: Probe, what: str, timeout: float = 30.0,
                     interval: float = 0.05) -> Any:
    """The probe's first truthy result; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for: {what}")
        await asyncio.sleep(interval)
