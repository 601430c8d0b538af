"""`settle_heap`: what is alive at start-up leaves the collector's sight, and young passes
become rare. Run in a child interpreter so the test process keeps its own GC settings."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from kernel.heap import settle_heap, YOUNG_THRESHOLD
state = [{"n": i} for i in range(5000)]  # long-lived state built at start-up
before = gc.get_stats()[0]["collections"]
settle_heap()
passes = gc.get_stats()[0]["collections"]
for _ in range(200):  # request-shaped garbage: short-lived, acyclic
    [{"k": j} for j in range(50)]
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()[0],
                  "young_passes_after": gc.get_stats()[0]["collections"] - passes,
                  "expected": YOUNG_THRESHOLD}))
"""


def probe() -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_settle_heap_freezes_start_up_state_and_spaces_young_passes() -> None:
    found = probe()
    assert found["frozen"] >= 5000
    assert found["threshold"] == found["expected"] > 700
    # 10,000 short-lived allocations: at CPython's default (700) that is ~14 passes
    assert found["young_passes_after"] == 0
