"""`core.write_batching.BatchedWrites`: what one loop turn writes leaves in one write."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from core.write_batching import BatchedWrites

pytestmark = pytest.mark.unit


class Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


def batched() -> tuple[Recorder, BatchedWrites]:
    sink = Recorder()
    return sink, BatchedWrites(cast(asyncio.Transport, sink), asyncio.get_running_loop())


async def next_turn() -> None:
    await asyncio.sleep(0)  # one loop turn: the flush scheduled by a write has run


async def test_head_and_body_of_one_turn_leave_in_one_write() -> None:
    sink, transport = batched()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(memoryview(b"{}"))
    assert sink.writes == []
    assert transport.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\n{}")
    await next_turn()
    assert sink.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    transport.write(b"next")
    await next_turn()
    assert sink.writes[1:] == [b"next"]


async def test_close_sends_what_is_held_first_and_a_closed_peer_gets_nothing() -> None:
    sink, transport = batched()
    transport.write(b"last words")
    transport.close()
    assert sink.writes == [b"last words"] and sink.closing
    sink2, transport2 = batched()
    transport2.write(b"too late")
    sink2.closing = True
    await next_turn()
    assert sink2.writes == []
    assert transport2.get_extra_info("peername") == "extra:peername"
