"""One socket write per event-loop turn for each HTTP connection.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body in a second write: two system calls, and two
wake-ups of the client, per response. On a busy machine each wake-up can hand the CPU to
the client and leave the single-threaded API waiting for it again, which showed as the
list point's tail (p95 ten times its median). `BatchedWrites` keeps what is written
during one turn of the loop and writes it at the end of that turn, in one call: a
response sent in one go (as every non-streaming one is) leaves in a single write, and
nothing waits longer than the turn it was written in.
"""

from __future__ import annotations

import asyncio
from typing import Any


class BatchedWrites:
    """A transport whose writes are joined until the loop's next turn (or `close`)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held = []
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
