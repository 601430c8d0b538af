"""Latency against throughput, one line per scenario group (matplotlib, optional extra)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any


def draw(report: dict[str, Any], path: Path) -> bool:
    """False when matplotlib is not installed (`pip install -e '.[bench]'`)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in report["scenarios"]:
        if row["p99_ms"] > 0 and row["unit"] == "req/s":
            groups[row["group"]].append(row)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for group, rows in sorted(groups.items()):
        rows.sort(key=lambda r: r["throughput"])
        xs = [r["throughput"] for r in rows]
        for ax, key in zip(axes, ("p50_ms", "p99_ms"), strict=True):
            ax.plot(xs, [r[key] for r in rows], marker="o", label=group)
    for ax, key in zip(axes, ("p50", "p99"), strict=True):
        ax.set(xlabel="throughput (requests/s)", ylabel=f"{key} latency (ms)", yscale="log",
               title=f"{key} latency vs throughput")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"CORE bench {report['meta'].get('started', '')}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
