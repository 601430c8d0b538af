"""Deadlines for reading a request, which uvicorn does not have.

* Headers: `HeaderDeadlineProtocol` closes a connection whose request line and headers are
  not complete `CORE_HTTP_HEADER_TIMEOUT_S` after the connection opened, or after the first
  byte of a later request on a kept-alive connection. It has to live in the protocol: the
  ASGI app is called only once the headers are complete, so it never sees a slow sender.
* Body: `BodyDeadline` answers 408 `{"error":"request_timeout"}` (and closes the
  connection) when a declared body is still incomplete `CORE_HTTP_BODY_TIMEOUT_S` after
  the app was called.

The protocol also sends each response in one write (`core.http_writes`).

`uvicorn_options` gathers these with uvicorn's own limits (`limit_concurrency`,
`timeout_keep_alive`) for `core serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from core.http_writes import CoalescingTransport
from kernel.http import dumps
from kernel.settings import Settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = cast(asyncio.Transport, CoalescingTransport(transport, self.loop))
        super().connection_made(coalescing)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def header_deadline_protocol(timeout_s: float) -> functools.partial[HeaderDeadlineProtocol]:
    """What uvicorn's `http=` receives: a picklable factory (`--workers` spawns processes)."""
    return functools.partial(HeaderDeadlineProtocol, header_timeout_s=timeout_s)


REQUEST_TIMEOUT = {"error": "request_timeout"}


class BodyTimeout(Exception):
    pass


class BodyDeadline:
    def __init__(self, app: ASGIApp, timeout_s: float = 30.0) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _declares_body(scope):
            await self.app(scope, receive, send)
            return
        reading = _BodyReading(asyncio.get_running_loop().time() + self.timeout_s, receive, send)
        with contextlib.suppress(BodyTimeout):
            await self.app(scope, reading.receive, reading.send)
        if reading.timed_out and not reading.started:
            await _send_408(send)


def _declares_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    return headers.get(b"content-length", b"0") not in (b"0", b"") \
        or b"transfer-encoding" in headers


class _BodyReading:
    """A request's receive and send: receive times out until the body is complete; once it
    has, whatever the app tries to send (its error for the broken read) is dropped."""

    def __init__(self, deadline: float, receive: Receive, send: Send) -> None:
        self.deadline, self._receive, self._send = deadline, receive, send
        self.complete = self.timed_out = self.started = False

    async def receive(self) -> Message:
        if self.complete:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.timed_out = True
            raise BodyTimeout from None
        self.complete = message["type"] != "http.request" or not message.get("more_body")
        return message

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return
        self.started = True
        await self._send(message)


async def _send_408(send: Send) -> None:
    body = dumps(REQUEST_TIMEOUT)
    await send({"type": "http.response.start", "status": 408, "headers": [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {"host": settings.host, "port": settings.port, "loop": "uvloop",
            "log_level": "warning", "access_log": False,
            "limit_concurrency": settings.http_max_connections,
            "timeout_keep_alive": settings.http_keep_alive_s,
            "http": header_deadline_protocol(settings.http_header_timeout_s)}
