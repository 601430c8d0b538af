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
        rows.sort(key=lambda r: (r["concurrency"], r["name"]))
        xs = [r["throughput"] for r in rows]
        rising = group.startswith("writes")  # one operation at rising concurrency: a curve
        for ax, key in zip(axes, ("p50_ms", "p99_ms"), strict=True):
            ys = [r[key] for r in rows]
            ax.plot(xs, ys, marker="o", linestyle="-" if rising else "none", label=group)
            for row, x, y in zip(rows, xs, ys, strict=True):
                ax.annotate(_label(row), (x, y), fontsize=6, xytext=(3, 3),
                            textcoords="offset points")
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


def _label(row: dict[str, Any]) -> str:
    if row["group"].startswith("writes"):
        return f"c{row['concurrency']}"
    parts = row["name"].split(".")
    return " ".join(parts[2:]) if row["group"] == "search-store" else parts[1]
