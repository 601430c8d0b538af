"""Peak resident memory of the API and worker processes (Linux /proc: VmHWM, VmRSS)."""

from __future__ import annotations

import os
from pathlib import Path


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's worker processes, for instance)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        if not Path(f"/proc/{current}").exists():
            continue
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                pending.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


class MemoryWatch:
    """Remembers, per role, the highest peak seen: the largest process and the whole tree."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.peaks: dict[str, dict[str, float]] = {}

    def add(self, role: str, pid: int) -> None:
        self.pids.setdefault(role, []).append(pid)

    def sample(self) -> None:
        for role, roots in self.pids.items():
            tree = [p for root in roots for p in process_tree(root)]
            if not tree:
                continue
            peaks = [_status_kb(p, "VmHWM") / 1024 for p in tree]
            current = sum(_status_kb(p, "VmRSS") for p in tree) / 1024
            seen = self.peaks.setdefault(role, {"peak_process_mb": 0.0, "peak_tree_mb": 0.0,
                                                "processes": 0})
            seen["peak_process_mb"] = round(max(seen["peak_process_mb"], *peaks), 1)
            seen["peak_tree_mb"] = round(max(seen["peak_tree_mb"], sum(peaks), current), 1)
            seen["processes"] = max(int(seen["processes"]), len(tree))


def cpu_seconds(roots: list[int]) -> float:
    """User + system CPU time of the processes under `roots` that are alive now."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in (p for root in roots for p in process_tree(root)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            if pid in roots:  # and the children it already reaped (e.g. Postgres backends)
                total += int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks
