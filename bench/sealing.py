"""`python -m bench.sealing`: CPU cost of sealing per write (docs/security.md, "Cost").

Seals and opens representative write events (a memory with a 1536-dimension embedding, a
claim with its packed embedding, a recall) in this process, and prints the CPU time per
event of encoding plain and sealed, of decoding plain and sealed, with the extra cost as a
share of `--write-cpu-ms` (the whole write's CPU across API and worker, as measured by the
writes scenario; default 5 ms). CPU time (`process_time`), so a busy machine inflates it
less than wall time. Bounded by `--events` per kind.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from schemas.claim_events import ClaimAsserted
from schemas.sealing import SubjectKeys, open_record, seal_record

ENVELOPE = {"event_id": "0192a000-0000-7000-8000-000000000001", "v": 1, "project_id": "bench",
            "subject_id": "user_1", "occurred_at": "2026-11-27T10:00:00.123Z",
            "actor": "key_bench", "idempotency_key": None}


def kinds() -> dict[str, dict[str, Any]]:
    vector = [random.uniform(-1, 1) for _ in range(1536)]
    claim = ClaimAsserted(claim_id="clm_1", assertion_id="ast_1", predicate="favorite_color",
                          object_value="yellow", slot="favorite_color", embedding=vector)
    return {
        "memory.submitted": {**ENVELOPE, "type": "memory.submitted", "payload": {
            "id": "mem_1", "text": "I moved to Lisbon last spring and I love it there",
            "tags": ["home"], "metadata": {"source": "chat"}, "embedding": vector}},
        "claim.asserted": {**ENVELOPE, "type": "claim.asserted",
                           "payload": claim.model_dump(mode="json")},
        "memory.recalled": {**ENVELOPE, "type": "memory.recalled", "payload": {
            "recalls": [{"event_id": f"evt_{i}", "memory_id": f"mem_{i}",
                         "similarity_score": 0.5} for i in range(10)], "chat_id": "c1"}},
    }


def cpu_us(action: Callable[[], object], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        action()
    return (time.process_time() - started) / count * 1e6


def open_sealed(raw: bytes, keys: SubjectKeys) -> dict[str, Any]:
    return open_record(orjson.loads(raw), "event_id", keys)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sealing")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--write-cpu-ms", type=float, default=5.0)
    args = parser.parse_args()
    key = os.urandom(32)
    keys: SubjectKeys = {("bench", "user_1", 1): key}
    print(f"{'event':18} {'encode µs':>10} {'sealed µs':>10} {'decode µs':>10} {'open µs':>10} "
          f"{'extra/write':>12} {'bytes':>14}")
    for name, event in kinds().items():
        raw, plain_raw = orjson.dumps(seal_record(event, "event_id", 1, key)), orjson.dumps(event)
        plain = cpu_us(partial(orjson.dumps, event), args.events)
        sealed = cpu_us(partial(seal_record, event, "event_id", 1, key), args.events)
        parsed = cpu_us(partial(orjson.loads, plain_raw), args.events)
        opened = cpu_us(partial(open_sealed, raw, keys), args.events)
        extra = (sealed - plain + opened - parsed) / (args.write_cpu_ms * 1000)
        print(f"{name:18} {plain:10.0f} {sealed:10.0f} {parsed:10.0f} {opened:10.0f} {extra:11.1%} "
              f"{len(orjson.dumps(event)):6}→{len(raw):6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
