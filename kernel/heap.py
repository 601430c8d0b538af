"""Garbage-collector settings for a long-running service process.

CPython's cycle collector runs a young-generation pass every 700 net allocations. Under load
most of a young generation is still alive (requests and batches in flight), so each pass
traverses it, promotes it, and the older passes traverse it again: py-spy put
`gc_collect_main` at ~9% of the API's CPU under the write load. Once a process has built
its long-lived state (pools, producer, routes, imported modules) `settle_heap` freezes it
out of every future pass and lets the young generation grow large enough that requests
finish, and their objects die by reference count, before a pass looks at them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000
"""Allocations between young-generation passes (CPython's default: 700)."""


def settle_heap(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Collect once, move what survives out of the collector's sight, raise the threshold.
    Call after start-up, when what is allocated now lives as long as the process."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
