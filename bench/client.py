"""A minimal keep-alive HTTP/1.1 client on asyncio streams.

The load generator shares two cores with the system it measures, so it must cost as
little as possible per request: no connection pool, no header objects, one connection
per simulated client, bodies read by Content-Length (or chunked, for error pages).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    headers: bytes

    @classmethod
    def parse(cls, url: str, api_key: str) -> Target:
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"refusing a non-loopback target: {url}")
        headers = f"host: {parts.hostname}\r\n" + (f"x-api-key: {api_key}\r\n" if api_key else "")
        return cls(parts.hostname, parts.port or 80, headers.encode())


class Connection:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(
                self.target.host, self.target.port, limit=1 << 20)
        return self.reader, self.writer

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: bytes = b"") -> tuple[int, bytes]:
        """Status and body; a broken connection is reopened on the next call."""
        try:
            return await self._exchange(method, path, body, headers)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise

    async def _exchange(self, method: str, path: str, body: bytes,
                        headers: bytes) -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = (f"{method} {path} HTTP/1.1\r\ncontent-length: {len(body)}\r\n"
                "content-type: application/json\r\n").encode()
        writer.write(head + self.target.headers + headers + b"\r\n" + body)
        raw = await reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        lowered = raw.lower()
        at = lowered.find(b"content-length:")
        if at >= 0:
            length = int(lowered[at + 15:lowered.index(b"\r\n", at)])
            return status, await reader.readexactly(length)
        return status, await _chunked(reader)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            return b"".join(parts)
        parts.append(data[:-2])
