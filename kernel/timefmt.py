"""Timestamps as the spec renders them: ISO-8601 UTC, three fractional digits, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def now_ms() -> datetime:
    """Now, truncated to milliseconds (the precision every timestamp is rendered with)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_ms(value: datetime | None) -> str | None:
    if value is None:
        return None
    utc = value.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y does not pad such years; keep its rendering
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # 4x strftime's speed
