"""`python -m bench --only drills`: the fault drills of `tests/integration/test_fault_drills.py`
at full load (`--drill-writes`, default 2,000 writes per drill), printing one line per drill:
acknowledged writes, missing, duplicated, lag, SSE completeness, and the longest pause
between acknowledged writes (the broker-kill drill's figure to watch)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_drills(writes: int) -> int:
    env = {**os.environ, "CORE_DRILL_WRITES": str(writes)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
         "tests/integration/test_fault_drills.py"], cwd=REPO, env=env, capture_output=True,
        text=True)
    rows = [line.lstrip(".") for line in done.stdout.splitlines() if "acked=" in line]
    print("drill                    figures")
    for row in rows:
        print(row)
    if done.returncode != 0:
        print(done.stdout[-4000:], file=sys.stderr)
    return done.returncode
