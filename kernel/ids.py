"""Identifiers assigned when a command is accepted (never inside a projector)."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit millisecond timestamp, then random bits; sorts by time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def memory_id() -> str:
    return f"mem_{uuid.uuid4()}"


def claim_id() -> str:
    return f"clm_{uuid.uuid4()}"


def assertion_id() -> str:
    return f"ast_{uuid.uuid4()}"
