"""What the sync and the async client share: requests as data, retries, answers to results."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from core_client.errors import ConnectionFailed, CoreError, error_for
from core_client.models import Accepted, BatchResult

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
BATCH_MAX = 500
"""Items per batch request (the batch routes' limit); longer lists are sent in chunks."""


@dataclass(frozen=True)
class Retry:
    """How often and how patiently to retry: connection errors, 429, 5xx and 409
    `idempotency_key_in_use` are retried (writes carry an Idempotency-Key, so a retry never
    applies a write twice); `attempts` counts every try."""

    attempts: int = 4
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when it is longer."""
        wait = min(self.max_backoff_s, self.backoff_s * 2 ** attempt)
        wait *= 0.5 + random.random() / 2
        return float(max(wait, min(retry_after or 0.0, 60.0)))


@dataclass(frozen=True)
class Op(Generic[T]):
    """One API call: the request, and how its success answer becomes a result."""

    method: str
    path: str
    parse: Callable[[int, Any], T]
    params: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    write: bool = False
    idempotency_key: str | None = None


def model(cls: type[M]) -> Callable[[int, Any], M]:
    return lambda _status, body: cls.model_validate(body)


def new_key() -> str:
    return uuid.uuid4().hex


def clean(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the unset ones; booleans as the API reads them."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()
            if v is not None}


def base_headers(api_key: str | None, project: str | None,
                 extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"user-agent": "core-client/0.1", **(extra or {})}
    if api_key:
        headers["x-api-key"] = api_key
    if project:
        headers["x-project-id"] = project
    return headers


def request_headers(op: Op[Any], key: str | None, respond_async: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    if key is not None:
        headers["idempotency-key"] = key
    if respond_async:
        headers["prefer"] = "respond-async"
    return headers


def decode(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except json.JSONDecodeError:
        return {"error": f"http_{response.status_code}", "message": response.text[:500]}


def retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def retryable(status: int, body: Any) -> bool:
    if status == 429 or status >= 500:
        return True
    return status == 409 and isinstance(body, dict) \
        and body.get("error") == "idempotency_key_in_use"


def unreachable(exc: Exception) -> ConnectionFailed:
    return ConnectionFailed(0, "connection_failed", message=f"{type(exc).__name__}: {exc}")


def result(op: Op[T], status: int, body: Any, wait_after: float | None = None) -> T:
    """The op's result from a final answer, or its typed error."""
    if status >= 400:
        raise error_for(status, body, wait_after)
    return op.parse(status, body)


def accepted(status: int, body: Any) -> Accepted:
    if status != 202:
        raise CoreError(status, "not_accepted", body if isinstance(body, dict) else {},
                        message="the command was answered at once instead of accepted")
    return Accepted.model_validate(body)


def is_accepted(status: int, body: Any) -> bool:
    return status == 202 and isinstance(body, dict) and "status_url" in body


def chunk_key(key: str, index: int, chunks: int) -> str:
    """The Idempotency-Key of one chunk of a long batch (the key itself for a single one)."""
    return key if chunks == 1 else f"{key}-{index}"


def chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i:i + BATCH_MAX] for i in range(0, len(items), BATCH_MAX)] or [[]]


def merged(results: list[BatchResult]) -> BatchResult:
    return BatchResult(results=[item for r in results for item in r.results])
