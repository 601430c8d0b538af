"""One socket write per response instead of two.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, and the body in a second `write` when it arrives, microseconds later:
two syscalls and two TCP segments per request. On this project's machines a loopback write
is the largest single item in the API's write-path profile (py-spy: the header write alone
~12% of the process), so `CoalescingTransport` holds what is written during one turn of the
event loop and sends it as one write at the end of that turn. Nothing waits longer than the
turn; `close()` sends what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    """Wraps a connection's transport for the HTTP protocol; everything but `write`,
    `writelines`, `close` and `abort` goes straight to the real transport."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._flush_scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._held.append(bytes(data))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        self._flush_scheduled = False
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
