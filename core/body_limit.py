"""Request bodies read with a ceiling: the size is enforced while the body streams in.

A declared `content-length` over the limit is refused without reading a byte; otherwise the
`http.request` messages of the ASGI receive channel are counted as they arrive and reading
stops at the first byte over the limit. So a chunked upload of any size costs at most the
limit (plus one message) in memory; the server answers 413 and closes the connection.
A body at most `DRAIN_MAX` long is read to its end (and discarded) first: a client that is
still sending when the connection closes sees a reset instead of the 413, so an honest
client slightly over the limit gets its answer; anything larger is cut off at once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

DRAIN_MAX = 4 * 1024 * 1024


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared_over(declared, limit):
        if not declared_over(declared, DRAIN_MAX):
            await _discard(request, 0)
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] != "http.request":
            return None  # the client went away mid-body
        chunk = message.get("body", b"")
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:
            if more:
                await _discard(request, size)
            return None
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)


async def _discard(request: Request, seen: int) -> None:
    """Reads the rest of the body without keeping it, up to DRAIN_MAX bytes in all."""
    while seen <= DRAIN_MAX:
        message = await request.receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def declared_over(declared: str, limit: int) -> bool:
    digits = declared.strip().lstrip("0")
    if not (digits.isascii() and digits.isdigit()):
        return False
    return len(digits) > len(str(limit)) or int(digits) > limit


def with_body(request: Request, body: bytes) -> Request:
    """The same request (scope, state) whose receive channel replays the body already read."""
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    return Request(request.scope, receive)
