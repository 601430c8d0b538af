"""A local OpenAI-compatible HTTP server: the one fake AI provider, reached by the real SDK.

Start it with `with OpenAIStub() as stub:` (or `start()` / `stop()`); it serves on
127.0.0.1 at a free port from a background thread; point clients at `stub.base_url`.

Endpoints
* `POST /v1/embeddings` — deterministic 1536-d vectors (`embed_text`): the hashed
  bag of lower-cased word tokens (weight 1) and character trigrams of the
  space-joined tokens (weight 0.5), each feature adding ±weight to one dimension
  chosen by BLAKE2b, then L2-normalised; a text without tokens gets e0. Identical
  text (ignoring case and punctuation) → identical vector. One extra word on a
  four-word text stays ≥ 0.85 ("I live in Austin" / "… Austin Texas" ≈ 0.88), one
  changed word of five lands in 0.6–0.85 ("… color is blue" / "… is green" ≈ 0.80,
  "… Austin" / "… Paris" ≈ 0.68), texts without shared words or trigrams ≈ 0.
  Answers `encoding_format` "float" or "base64" (float32 LE) like the real API.
* `POST /v1/chat/completions` (Cerebras path) and `POST /v1/responses` (OpenAI path)
  answer JSON text. The operation is detected from the system/developer prompt:
  classify = "memory retrieval router", rerank = "memory relevance judge",
  extract = "extract durable user memories", anything else = "other";
  embeddings are operation "embed".

Scripting: `stub.script(op, body, raw=…, status=…, delay=…, times=…)` queues a reply
for the operation (FIFO, each used `times` times, `times=None` = forever). Without a
script: classify → indirect with empty lists, rerank → every candidate relevant in
the given order, extract → no memories, embed → the vectors above.
Every request is recorded (`stub.requests(op)`), with its JSON body and headers.
"""

from __future__ import annotations

import array
import asyncio
import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DIMENSIONS = 1536
MARKERS = {
    "classify": "memory retrieval router",
    "rerank": "memory relevance judge",
    "extract": "extract durable user memories",
}


@dataclass
class Reply:
    body: Any = None
    raw: str | None = None
    status: int = 200
    delay: float = 0.0
    times: int | None = 1


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    operation: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def user_prompt(self) -> str:
        """The user message text, for chat completions and responses alike."""
        return _prompts(self.body.get("messages") or self.body.get("input") or [])[1]


# --- embeddings ---------------------------------------------------------------------

def _features(text: str) -> dict[str, float]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    joined = f" {' '.join(words)} "
    weights: dict[str, float] = defaultdict(float)
    for word in words:
        weights[f"w:{word}"] += 1.0
    for i in range(len(joined) - 2) if words else ():
        weights[f"t:{joined[i:i + 3]}"] += 0.5
    return weights


def embed_text(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for feature, weight in _features(text).items():
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vector[digest % DIMENSIONS] += weight if (digest >> 32) & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1.0] + [0.0] * (DIMENSIONS - 1)
    return [v / norm for v in vector]


def dead_base_url() -> str:
    """A base URL on a port nothing listens on: every request fails to connect."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _encode(vector: list[float], encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(array.array("f", vector).tobytes()).decode()
    return vector


# --- default chat answers -------------------------------------------------------------

def _default_answer(operation: str, user: str) -> dict[str, Any]:
    if operation == "classify":
        return {"mode": "indirect", "predicates": [], "search_hints": [], "expanded_queries": []}
    if operation == "rerank":
        indexes = [int(i) for i in re.findall(r"^\[(\d+)\] ", user, flags=re.MULTILINE)]
        ranked = [{"index": i, "relevant": True, "score": 0.99 - 0.01 * i} for i in indexes]
        return {"ranked": ranked}
    if operation == "extract":
        return {"memories": []}
    return {}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else []
    return "".join(str(part.get("text", "")) for part in parts if isinstance(part, dict))


def _prompts(messages: list[dict[str, Any]]) -> tuple[str, str]:
    by_role = {m.get("role"): _text_of(m.get("content")) for m in messages if isinstance(m, dict)}
    return by_role.get("system") or by_role.get("developer") or "", by_role.get("user") or ""


def detect_operation(system: str) -> str:
    lowered = system.lower()
    return next((op for op, marker in MARKERS.items() if marker in lowered), "other")


def _chat_payload(model: str, text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {
        "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _responses_payload(model: str, text: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    message = {
        "type": "message", "id": "msg_stub", "role": "assistant", "status": "completed",
        "content": [part],
    }
    return {
        "id": "resp_stub", "object": "response", "created_at": int(time.time()),
        "model": model, "status": "completed", "output": [message],
        "parallel_tool_calls": False, "tool_choice": "auto", "tools": [],
    }


# --- the server -----------------------------------------------------------------------

class OpenAIStub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._requests: list[RecordedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> OpenAIStub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(), log_level="warning", access_log=False, loop="asyncio",
            lifespan="off", timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        self._await_started()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def _await_started(self, deadline_s: float = 10.0) -> None:
        deadline = time.monotonic() + deadline_s
        while not (self._server and self._server.started):
            if time.monotonic() > deadline or not (self._thread and self._thread.is_alive()):
                raise RuntimeError("OpenAI stub did not start")
            time.sleep(0.01)

    # scripting and inspection

    def script(
        self, operation: str, body: Any = None, *, raw: str | None = None, status: int = 200,
        delay: float = 0.0, times: int | None = 1,
    ) -> None:
        with self._lock:
            self._scripts[operation].append(Reply(body, raw, status, delay, times))

    def reset(self) -> None:
        with self._lock:
            self._scripts.clear()
            self._requests.clear()

    def requests(self, operation: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self._requests if operation in (None, r.operation)]

    def _next_reply(self, operation: str) -> Reply | None:
        with self._lock:
            queue = self._scripts[operation]
            if not queue:
                return None
            reply = queue[0]
            if reply.times is not None:
                reply.times -= 1
                if reply.times <= 0:
                    queue.popleft()
            return reply

    def _record(self, request: Request, operation: str, body: dict[str, Any]) -> None:
        entry = RecordedRequest(request.url.path, operation, body, dict(request.headers))
        with self._lock:
            self._requests.append(entry)

    # HTTP

    def _app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/responses", self._responses, methods=["POST"]),
        ])

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self._record(request, "embed", body)
        scripted = await self._scripted("embed")
        if scripted is not None:
            return scripted
        inputs = body.get("input")
        texts = inputs if isinstance(inputs, list) else [inputs]
        encoding = str(body.get("encoding_format") or "float")
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(embed_text(str(t)), encoding)}
            for i, t in enumerate(texts)
        ]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                             "usage": usage})

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        return await self._answer(request, body, body.get("messages") or [], _chat_payload)

    async def _responses(self, request: Request) -> Response:
        body = await request.json()
        messages = body.get("input") if isinstance(body.get("input"), list) else []
        return await self._answer(request, body, messages, _responses_payload)

    async def _answer(
        self, request: Request, body: dict[str, Any], messages: list[dict[str, Any]],
        wrap: Any,
    ) -> Response:
        system, user = _prompts(messages)
        operation = detect_operation(system)
        self._record(request, operation, body)
        scripted = await self._scripted(operation, wrap, str(body.get("model")))
        if scripted is not None:
            return scripted
        text = json.dumps(_default_answer(operation, user))
        return JSONResponse(wrap(str(body.get("model")), text))

    async def _scripted(
        self, operation: str, wrap: Any = None, model: str = ""
    ) -> Response | None:
        reply = self._next_reply(operation)
        if reply is None:
            return None
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status >= 400:
            error = {"error": {"message": f"scripted {reply.status}", "type": "stub_error"}}
            return JSONResponse(error, status_code=reply.status)
        text = reply.raw if reply.raw is not None else json.dumps(reply.body)
        if wrap is None:  # embeddings: the scripted text is the whole HTTP body
            return Response(text, media_type="application/json")
        return JSONResponse(wrap(model, text))
