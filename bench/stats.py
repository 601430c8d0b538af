"""Latency samples and the per-scenario figures every report carries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile of `samples` (seconds), in milliseconds; 0 when empty."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank] * 1000


@dataclass
class Scenario:
    """One measured scenario: counts, duration and latency percentiles (ms)."""

    name: str
    group: str
    concurrency: int = 0
    requests: int = 0
    errors: int = 0
    duration_s: float = 0.0
    throughput: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    unit: str = "req/s"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(name: str, group: str, latencies: list[float], errors: int, duration_s: float,
              concurrency: int = 0, unit: str = "req/s", **extra: Any) -> Scenario:
    """Throughput counts successful operations only; errors are reported beside it."""
    return Scenario(
        name=name, group=group, concurrency=concurrency, requests=len(latencies) + errors,
        errors=errors, duration_s=round(duration_s, 3),
        throughput=round(len(latencies) / duration_s, 1) if duration_s > 0 else 0.0,
        p50_ms=round(percentile(latencies, 50), 2), p95_ms=round(percentile(latencies, 95), 2),
        p99_ms=round(percentile(latencies, 99), 2),
        max_ms=round(max(latencies, default=0.0) * 1000, 2), unit=unit, extra=extra,
    )
