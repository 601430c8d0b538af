"""Typed Python client for CORE: `CoreClient` (sync) and `AsyncCoreClient` (asyncio)."""

from core_client._core import Retry
from core_client.aio import AsyncCoreClient
from core_client.client import CoreClient
from core_client.errors import (
    Conflict,
    ConnectionFailed,
    CoreError,
    Forbidden,
    IdempotencyKeyReused,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationError,
    WaitTimeout,
)
from core_client.models import Accepted, BatchItemResult, BatchResult, Event

__all__ = [
    "Accepted", "AsyncCoreClient", "BatchItemResult", "BatchResult", "Conflict",
    "ConnectionFailed", "CoreClient", "CoreError", "Event", "Forbidden",
    "IdempotencyKeyReused", "NotFound", "PayloadTooLarge", "RateLimited", "Retry",
    "ServerError", "Unauthorized", "ValidationError", "WaitTimeout",
]
