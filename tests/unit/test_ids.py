"""Ids from the pooled OS randomness: well-formed RFC 9562 UUIDs, never repeated, and a
forked child does not replay its parent's unread bytes."""

from __future__ import annotations

import os
import uuid

from kernel.ids import memory_id, random_bytes, random_hex, uuid4, uuid7


def test_uuids_are_rfc_9562_and_unique() -> None:
    fours = [uuid4() for _ in range(5000)]
    sevens = [uuid7() for _ in range(5000)]
    assert len(set(fours)) == len(fours) and len(set(sevens)) == len(sevens)
    for text in fours[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    for text in sevens[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    stamps = [text.replace("-", "")[:12] for text in sevens]  # the 48-bit milliseconds
    assert stamps == sorted(stamps)
    assert memory_id().startswith("mem_") and len(random_hex()) == 32


def test_bytes_are_never_handed_out_twice_across_refills() -> None:
    chunks = [random_bytes(24) for _ in range(2000)]  # several 4 KiB refills
    assert len(set(chunks)) == len(chunks)


def test_a_forked_child_draws_fresh_bytes() -> None:
    random_bytes(1)  # the pool holds unread bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(write, random_bytes(16))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 16)
    assert child != random_bytes(16)
