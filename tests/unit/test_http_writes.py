"""`CoalescingTransport` over a real socket pair: one write per loop turn, nothing lost."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from core.http_writes import CoalescingTransport


class Received(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


@pytest.fixture
async def pair() -> AsyncIterator[tuple[CoalescingTransport, list[bytes], Received]]:
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    sender, _ = await loop.connect_accepted_socket(asyncio.Protocol, left)
    receiver = Received()
    reader, _ = await loop.connect_accepted_socket(lambda: receiver, right)
    writes: list[bytes] = []
    real_write = sender.write

    def counted(data: bytes) -> None:
        writes.append(bytes(data))
        real_write(data)

    sender.write = counted  # type: ignore[method-assign,assignment]
    yield CoalescingTransport(sender, loop), writes, receiver
    sender.close()
    reader.close()


async def test_writes_of_one_turn_leave_as_one(
        pair: tuple[CoalescingTransport, list[bytes], Received]) -> None:
    transport, writes, receiver = pair
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"ok")
    assert writes == []  # held until the end of this turn
    await asyncio.sleep(0)
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert len(writes) == 2


async def test_close_sends_what_is_held_first(
        pair: tuple[CoalescingTransport, list[bytes], Received]) -> None:
    transport, writes, receiver = pair
    transport.write(b"last words")
    transport.close()
    await asyncio.wait_for(receiver.closed.wait(), 5)
    assert bytes(receiver.data) == b"last words" and writes == [b"last words"]


async def test_abort_drops_what_is_held(
        pair: tuple[CoalescingTransport, list[bytes], Received]) -> None:
    transport, writes, receiver = pair
    transport.write(b"never sent")
    transport.abort()
    await asyncio.wait_for(receiver.closed.wait(), 5)
    await asyncio.sleep(0)
    assert writes == [] and bytes(receiver.data) == b""
