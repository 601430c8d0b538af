"""Request bodies read with a ceiling: the size is enforced while the body streams in.

A declared `content-length` over the limit is refused without reading a byte; otherwise the
`http.request` messages of the ASGI receive channel are counted as they arrive and reading
stops at the first byte over the limit. So a chunked upload of any size costs at most the
limit (plus one message) in memory; the server answers 413 and closes the connection
instead of draining the rest.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes."""
    if declared_over(request.headers.get("content-length", ""), limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


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
