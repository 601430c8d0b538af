"""Progress of the long commands (export, replay, rebuild, backup, restore, bench phases).

On a terminal (stderr is a TTY and no `--json`): a live `rich` progress bar per phase with
events/s and an ETA, then one human summary line. Otherwise nothing until the end, then one
JSON summary line. The work itself only sees `(done, total)` callbacks (`projections` never
imports this module).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

import orjson
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Callback = Callable[[int, int], None]


class RateColumn(ProgressColumn):
    """Events per second over rich's recent-speed window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:  # too few samples yet: the average so far
            speed = task.completed / task.elapsed
        shown = "-" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} events/s", style="progress.data.speed")


class Reporter:
    """One per command run: `with Reporter(json_mode) as report: cb = report.phase("x") …
    report.finish(summary, message)`."""

    def __init__(self, json_mode: bool = False, stream: TextIO | None = None) -> None:
        self.live = not json_mode and sys.stderr.isatty()
        self.stream = stream or sys.stdout
        self._bar: Progress | None = None
        if self.live:
            self._bar = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(),
                MofNCompleteColumn(), RateColumn(), TextColumn("eta"), TimeRemainingColumn(),
                TimeElapsedColumn(), console=Console(stderr=True), transient=False,
                refresh_per_second=8, speed_estimate_period=10)

    def __enter__(self) -> Reporter:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def phase(self, label: str) -> Callback:
        """A callback for one phase; `(0, 0)` marks work of unknown size (a spinner)."""
        bar = self._bar
        if bar is None:
            return _ignore
        task: list[TaskID] = []

        def update(done: int, total: int) -> None:
            if not task:
                task.append(bar.add_task(label, total=total or None))
            bar.update(task[0], completed=done, total=total or None)

        return update

    def finish(self, summary: dict[str, Any], message: str) -> None:
        """The command's last word: `message` on a terminal, else one JSON line."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self.live:
            self.stream.write(message + "\n")
        else:
            line = {**summary, "message": message}
            self.stream.write(orjson.dumps(line).decode() + "\n")
        self.stream.flush()


def _ignore(_done: int, _total: int) -> None:
    return None
