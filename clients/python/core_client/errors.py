"""Typed errors: one class per kind of answer, each carrying the API's error code and body."""

from __future__ import annotations

from typing import Any


class CoreError(Exception):
    """An answer the client cannot turn into a result: `status`, the spec's `code`, `body`."""

    def __init__(self, status: int, code: str, body: dict[str, Any] | None = None,
                 message: str | None = None) -> None:
        self.status, self.code, self.body = status, code, dict(body or {})
        detail = message or self.body.get("message")
        super().__init__(f"{status} {code}" + (f": {detail}" if detail else ""))


class ValidationError(CoreError):
    """400 (and 413, 422): the request itself is wrong (`subject_id_required`, …)."""


class PayloadTooLarge(ValidationError):
    """413 `payload_too_large`."""


class Unauthorized(CoreError):
    """401: no, an invalid or a revoked credential."""


class Forbidden(CoreError):
    """403: `insufficient_scope` or `project_forbidden`."""


class NotFound(CoreError):
    """404: `memory_not_found`, `claim_not_found`, `slot_not_found`, `command_not_found`, …"""


class Conflict(CoreError):
    """409: `memory_id_conflict`, `claim_id_conflict`, `idempotency_key_in_use`."""


class IdempotencyKeyReused(CoreError):
    """422 `idempotency_key_reused`: the key was already used with another request."""


class RateLimited(CoreError):
    """429 (`too_many_subscribers`, `asof_limit_reached`); `retry_after` in seconds if given."""

    retry_after: float | None = None


class ServerError(CoreError):
    """5xx, after the retries."""


class ConnectionFailed(CoreError):
    """The API could not be reached (connection refused, reset, timed out) after the retries."""


class WaitTimeout(CoreError):
    """A command was accepted (202) but had no final answer within the client's wait."""

    def __init__(self, event_id: str, status_url: str) -> None:
        super().__init__(202, "wait_timeout", {"event_id": event_id, "status_url": status_url})
        self.event_id, self.status_url = event_id, status_url


_BY_STATUS: dict[int, type[CoreError]] = {
    400: ValidationError, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: PayloadTooLarge, 422: ValidationError, 429: RateLimited,
}


def error_for(status: int, body: Any, retry_after: float | None = None) -> CoreError:
    """The typed error of an error answer (`{"error": code, …}`)."""
    payload = body if isinstance(body, dict) else {"body": body}
    code = str(payload.get("error") or f"http_{status}")
    if status == 422 and code == "idempotency_key_reused":
        return IdempotencyKeyReused(status, code, payload)
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else CoreError)
    found = kind(status, code, payload)
    if isinstance(found, RateLimited):
        found.retry_after = retry_after
    return found
