"""Printing, the JSON report, the targets of issue 9, and the ratio comparison of two reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.stats import Scenario

HEADER = (f"{'scenario':34} {'conc':>5} {'ok':>8} {'err':>6} {'throughput':>12} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")


def print_row(s: Scenario) -> None:
    ok = s.requests - s.errors
    print(f"{s.name:34} {s.concurrency:>5} {ok:>8} {s.errors:>6} {s.throughput:>8.0f} "
          f"{s.unit.split('/')[0][:3]:>3} {s.p50_ms:>8.1f} {s.p95_ms:>8.1f} {s.p99_ms:>8.1f}",
          flush=True)


def _best(rows: list[dict[str, Any]], group: str, p99_max: float) -> dict[str, Any] | None:
    fitting = [r for r in rows if r["group"] == group and r["p99_ms"] <= p99_max]
    candidates = fitting or [r for r in rows if r["group"] == group]
    return max(candidates, key=lambda r: r["throughput"], default=None)


def _peak(rows: list[dict[str, Any]], group: str) -> str:
    top = max((r for r in rows if r["group"] == group), key=lambda r: r["throughput"],
              default=None)
    return f"; peak {top['throughput']:.0f}/s at c{top['concurrency']} (p99 " \
           f"{top['p99_ms']:.0f} ms)" if top else ""


def _target(name: str, row: dict[str, Any] | None, figure: str, met: bool) -> dict[str, Any]:
    return {"target": name, "scenario": row["name"] if row else None,
            "figure": figure if row else "not measured", "met": bool(row) and met}


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    a = _best(rows, "writes-async", 50)
    out.append(_target("async writes >= 2500/s, p99 <= 50 ms", a,
                       a and f"{a['throughput']:.0f}/s at c{a['concurrency']} within p99 "
                       f"{a['p99_ms']:.1f} ms" + _peak(rows, "writes-async"),
                       bool(a) and a["throughput"] >= 2500 and a["p99_ms"] <= 50))
    w = _best(rows, "writes-wait", 100)
    out.append(_target("wait-mode writes >= 1000/s, write-to-visible p99 <= 100 ms", w,
                       w and f"{w['throughput']:.0f}/s at c{w['concurrency']} within p99 "
                       f"{w['p99_ms']:.1f} ms" + _peak(rows, "writes-wait"),
                       bool(w) and w["throughput"] >= 1000 and w["p99_ms"] <= 100))
    p = next((r for r in rows if r["group"] == "projector"), None)
    out.append(_target("projector >= 5000 events/s", p, p and f"{p['throughput']:.0f} events/s",
                       bool(p) and p["throughput"] >= 5000))
    s = max((r for r in rows if r["name"].startswith("search.store.vector.")),
            key=lambda r: int(r["name"].rsplit(".", 1)[1]), default=None)
    out.append(_target("search p95 <= 15 ms at 100k (store, vector + lexical)", s,
                       s and f"p95 {s['p95_ms']:.1f} ms ({s['name'].rsplit('.', 1)[1]} memories)",
                       bool(s) and s["p95_ms"] <= 15 and s["name"].endswith(".100000")))
    e = next((r for r in rows if r["group"] == "sse"), None)
    out.append(_target("1000 SSE subscribers, delivery p99 <= 250 ms at 200 writes/s", e,
                       e and f"{e['concurrency']} subs, p99 {e['p99_ms']:.0f} ms, "
                       f"{e['errors']} missing",
                       bool(e) and e["concurrency"] >= 1000 and e["p99_ms"] <= 250
                       and e["errors"] == 0))
    return out


def write_report(path: Path, meta: dict[str, Any], scenarios: list[Scenario],
                 memory: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    rows = [s.to_json() for s in scenarios]
    report = {"meta": meta, "scenarios": rows, "targets": targets(rows), "memory_mb": memory,
              "notes": notes}
    path.write_text(json.dumps(report, indent=2))
    return report


def print_summary(report: dict[str, Any]) -> None:
    print("\ntargets:")
    for t in report["targets"]:
        print(f"  [{'met' if t['met'] else 'NOT met':7}] {t['target']}: {t['figure']}")
    print("peak resident memory, MB (a sum counts shared memory, e.g. Postgres shared_buffers, "
          "once per process):")
    for role, peaks in report["memory_mb"].items():
        print(f"  {role}: largest process {peaks['peak_process_mb']}, sum over its "
              f"{peaks['processes']} processes {peaks['peak_tree_mb']}")


def compare(a_path: Path, b_path: Path) -> int:
    """B relative to A, per scenario: throughput ratio (>1 better), latency ratios (<1 better)."""
    a = {r["name"]: r for r in json.loads(a_path.read_text())["scenarios"]}
    b = {r["name"]: r for r in json.loads(b_path.read_text())["scenarios"]}
    print(f"{'scenario':34} {'throughput':>10} {'p50':>7} {'p95':>7} {'p99':>7}  (B / A)")
    for name in [n for n in a if n in b]:
        ratios = [_ratio(b[name][k], a[name][k]) for k in ("throughput", "p50_ms", "p95_ms",
                                                           "p99_ms")]
        print(f"{name:34} {ratios[0]:>10} {ratios[1]:>7} {ratios[2]:>7} {ratios[3]:>7}")
    for name in sorted(set(a) ^ set(b)):
        print(f"{name:34} only in {'A' if name in a else 'B'}")
    return 0


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}x" if old else "-"
