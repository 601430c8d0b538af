"""API keys: random, shown once, stored as a SHA-256 hash (the secret has 256 bits)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from core.auth.principal import SCOPES, Principal

PREFIX = "core_"


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    name: str
    projects: list[str]
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    key_id = f"key_{secrets.token_hex(6)}"
    return key_id, f"{PREFIX}{secrets.token_urlsafe(32)}"


def check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; allowed: {list(SCOPES)}")


async def create_key(conn: asyncpg.Connection | asyncpg.Pool, *, name: str,
                     projects: list[str], scopes: list[str]) -> tuple[str, str]:
    """Returns (key id, the key itself). The key is never stored."""
    check_scopes(scopes)
    key_id, key = new_key()
    await conn.execute(
        "INSERT INTO api_keys (id, name, key_hash, projects, scopes) VALUES ($1, $2, $3, $4, $5)",
        key_id, name, hash_key(key), projects, scopes)
    return key_id, key


async def list_keys(conn: asyncpg.Connection) -> list[ApiKeyRow]:
    rows = await conn.fetch("SELECT id, name, projects, scopes, created_at, last_used_at, "
                            "revoked_at FROM api_keys ORDER BY created_at")
    return [ApiKeyRow(**dict(r)) for r in rows]


async def revoke_key(conn: asyncpg.Connection, key_id: str) -> bool:
    done = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id)
    return str(done).endswith(" 1")


async def principal_for_key(pool: asyncpg.Pool, key: str) -> Principal | None:
    """One read per request; `last_used_at` is written at most once a minute per key."""
    row = await pool.fetchrow(
        "SELECT id, projects, scopes, last_used_at IS NULL "
        "OR last_used_at < now() - interval '1 minute' AS stale FROM api_keys "
        "WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key))
    if row is None:
        return None
    if row["stale"]:
        await pool.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL "
            "OR last_used_at < now() - interval '1 minute')", row["id"])
    return Principal(row["id"], frozenset(row["projects"]), frozenset(row["scopes"]))
