"""Identifiers assigned when a command is accepted (never inside a projector).

Their randomness is the operating system's (`os.urandom`), read 4 KiB at a time: a write
makes three or four ids, and one `getrandom` call per id was a measurable share of the API's
CPU. A child process never inherits the parent's unread bytes (`os.register_at_fork`).
"""

from __future__ import annotations

import os
import threading
import time

POOL_BYTES = 4096


class _RandomPool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._next = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._next + n > len(self._buffer):
                self._buffer, self._next = os.urandom(max(POOL_BYTES, n)), 0
            start, self._next = self._next, self._next + n
            return self._buffer[start:self._next]

    def forget(self) -> None:
        self._buffer, self._next = b"", 0


_pool = _RandomPool()
os.register_at_fork(after_in_child=_pool.forget)


def random_bytes(n: int) -> bytes:
    """`n` bytes from `os.urandom`, never handed out twice."""
    return _pool.take(n)


def random_hex(n_bytes: int = 16) -> str:
    return random_bytes(n_bytes).hex()


def _dashed(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid4() -> str:
    """RFC 9562 UUIDv4, as text."""
    value = int.from_bytes(random_bytes(16), "big")
    value = (value & ~(0xF << 76) & ~(0b11 << 62)) | (0x4 << 76) | (0b10 << 62)
    return _dashed(value)


def uuid7() -> str:
    """RFC 9562 UUIDv7: 48-bit millisecond timestamp, then random bits; sorts by time."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(random_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return _dashed(value)


def memory_id() -> str:
    return f"mem_{uuid4()}"


def claim_id() -> str:
    return f"clm_{uuid4()}"


def assertion_id() -> str:
    return f"ast_{uuid4()}"
