"""`--only idle`: the CPU an idle system burns (no traffic at all), per process and in total.

After the warm-up write the system settles (`SETTLE_S`), then each process's CPU time
(user + system, its children included, from /proc) is sampled over `--duration`, at least
`MIN_DURATION_S`. The figure is percent of one core; the row's throughput carries the total
(so here lower is better), `extra` has one `cpu_pct_<role>` per process role."""

from __future__ import annotations

import asyncio
import time

from bench.context import Bench
from bench.stats import Scenario

SETTLE_S = 30.0
"""The broker's JIT keeps compiling through its first minute or so: measure after it."""
MIN_DURATION_S = 20.0


async def run_idle(bench: Bench) -> None:
    await bench.caught_up()
    await asyncio.sleep(SETTLE_S)  # the bench measures a duration: waiting is the point
    seconds = max(bench.options.duration_s, MIN_DURATION_S)
    mark, began = bench.cpu_mark(), time.perf_counter()
    await asyncio.sleep(seconds)
    now, elapsed = bench.cpu_mark(), time.perf_counter() - began
    pct = {role: round((now[role] - mark.get(role, 0.0)) * 100 / elapsed, 2) for role in now}
    total = round(sum(pct.values()), 2)
    bench.record(Scenario(name="idle", group="idle", duration_s=round(elapsed, 1),
                          throughput=total, unit="%core",
                          extra={"cpu_pct_total": total,
                                 **{f"cpu_pct_{role}": v for role, v in pct.items()}}))
    print("  idle CPU, % of one core: " + ", ".join(f"{r} {v:.2f}" for r, v in pct.items())
          + f"; total {total:.2f}", flush=True)
