"""Idempotency-Key for POST/PATCH/DELETE: claim atomically, store the final response, replay it.

A key is scoped by project and principal. The first request claims it with a lease; a retry
with the same fingerprint waits for the first to finish and replays its stored answer; another
fingerprint is refused (422); a retry that outlives the wait gets 409. A claim whose lease ran
out (the API died) may be taken over: the event carries the key, and the projector gives a
second event with the same key the first one's outcome, so the write still applies once.
Both forget a key after `CORE_IDEMPOTENCY_TTL_S` (the projector by the events' occurred_at):
a key reused later is a new request, applied as such.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

MAX_KEY_LENGTH = 255
POLL_S = 0.05


@dataclass(frozen=True)
class Claimed:
    pass


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


@dataclass(frozen=True)
class Refused:
    status: int
    code: str


Begin = Claimed | Replay | Refused


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool, lease_s: float, wait_s: float) -> None:
        self.pool = pool
        self.lease_s = lease_s
        self.wait_s = wait_s

    async def begin(self, scope: tuple[str, str, str], print_: str) -> Begin:
        deadline = time.monotonic() + self.wait_s
        while True:
            outcome = await self._try_claim(scope, print_)
            if not isinstance(outcome, Refused) or outcome.code != "idempotency_key_in_use":
                return outcome
            if time.monotonic() > deadline:
                return outcome
            await asyncio.sleep(POLL_S)

    async def _try_claim(self, scope: tuple[str, str, str], print_: str) -> Begin:
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO idempotency_keys (project_id, principal, key, fingerprint, "
                "lease_until) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) "
                "ON CONFLICT DO NOTHING RETURNING 1", *scope, print_, self.lease_s)
            if inserted:
                return Claimed()
            row = await conn.fetchrow(
                "SELECT fingerprint, status, body, completed_at, lease_until < now() AS expired "
                "FROM idempotency_keys WHERE project_id = $1 AND principal = $2 AND key = $3 "
                "FOR UPDATE", *scope)
            return await self._existing(conn, scope, print_, row)

    async def _existing(self, conn: asyncpg.Connection, scope: tuple[str, str, str],
                        print_: str, row: asyncpg.Record | None) -> Begin:
        if row is None:
            return Refused(409, "idempotency_key_in_use")
        if row["fingerprint"] != print_:
            return Refused(422, "idempotency_key_reused")
        if row["completed_at"] is not None:
            return Replay(row["status"], orjson.loads(row["body"]))
        if not row["expired"]:
            return Refused(409, "idempotency_key_in_use")
        await conn.execute(
            "UPDATE idempotency_keys SET lease_until = now() + make_interval(secs => $4) "
            "WHERE project_id = $1 AND principal = $2 AND key = $3", *scope, self.lease_s)
        return Claimed()

    async def complete(self, scope: tuple[str, str, str], status: int, body: Any,
                       event_id: str) -> None:
        await self.pool.execute(
            "UPDATE idempotency_keys SET status = $4, body = $5, event_id = $6, "
            "completed_at = now() WHERE project_id = $1 AND principal = $2 AND key = $3",
            *scope, status, orjson.dumps(body).decode(), event_id)

    async def release(self, scope: tuple[str, str, str]) -> None:
        await self.pool.execute(
            "DELETE FROM idempotency_keys WHERE project_id = $1 AND principal = $2 AND key = $3 "
            "AND completed_at IS NULL", *scope)

    async def purge(self, ttl_s: int) -> int:
        """Forget keys answered more than `ttl_s` ago (claimed, for unanswered ones): the
        projector forgets them by then too, since their event occurred before the answer."""
        done = await self.pool.execute(
            "DELETE FROM idempotency_keys WHERE coalesce(completed_at, created_at) "
            "< now() - make_interval(secs => $1)", ttl_s)
        return int(done.split()[-1])
