"""The cyclic garbage collector's policy for the processes that fold the log.

Folding a batch allocates tens of thousands of short-lived objects (decoded JSON, models,
rows), almost none in reference cycles. With CPython's default first-generation threshold
(700 allocations) the collector ran hundreds of times per batch and took about 40% of the
projector's and the replay's CPU (measured with py-spy and `gc.disable()`, docs/bench.md).
A larger threshold collects the same cycles, less often; reference counting still frees
everything else at once.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def tune_for_batches() -> None:
    """Process-wide: call once, at the start of a worker or replay process."""
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, _young), middle, old)
