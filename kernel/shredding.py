"""Crypto-shredding: per-subject data keys, wrapped by the deployment's master key.

Every (project, subject) gets a random AES-256 data key per generation, stored wrapped
(AES-GCM under the master key, bound to project, subject and generation) in the global
table `subject_keys`. Personal payloads are sealed with it (`schemas.sealing`) before they
enter `core.events` or `core.changes`; forgetting a subject destroys its keys, which makes
every record sealed with them unreadable. The master key comes from `CORE_MASTER_KEY` (or
`CORE_MASTER_KEY_FILE`): 32 bytes as base64 or hex. Without one, nothing is sealed.

`KeyRing.batch_keys` is the one lookup of the read side: it fetches the live keys of a
batch's records in one query (so a destroyed key is never served from memory) and keeps
unwrapped keys in an LRU cache keyed by their wrapped form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kernel.notified_cache import NotifiedCache
from kernel.settings import Settings
from schemas.decoding import DecodeError, parse_record
from schemas.sealing import (
    KEY_GEN,
    NONCE_BYTES,
    KeyRef,
    SealError,
    SubjectKeys,
    open_record,
    seal_record,
    sealed_ref,
)

KEY_BYTES = 32
CACHE_MAX = 10_000
LIVE_KEYS_SQL = """
SELECT project_id, subject_id, generation, wrapped_key FROM public.subject_keys
WHERE (project_id, subject_id, generation) IN
  (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]))
"""
LIVE_KEY_SQL = """
SELECT generation, wrapped_key FROM public.subject_keys
WHERE project_id = $1 AND subject_id = $2 AND destroyed_at IS NULL
"""
NEW_KEY_SQL = """
INSERT INTO public.subject_keys (project_id, subject_id, generation, wrapped_key, master_id)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING generation
"""


class MasterKeyError(ValueError):
    pass


def parse_master_key(text: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(
            text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None,
            validate=True)
    except (ValueError, binascii.Error) as exc:
        raise MasterKeyError("the master key is neither hex nor base64") from exc
    if len(raw) != KEY_BYTES:
        raise MasterKeyError(f"the master key must be {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def new_master_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def master_key_from(settings: Settings) -> bytes | None:
    if settings.master_key:
        return parse_master_key(settings.master_key)
    if settings.master_key_file:
        return parse_master_key(Path(settings.master_key_file).read_text())
    return None


def master_id(master: bytes) -> str:
    """A short fingerprint naming the master key a data key is wrapped with."""
    return hashlib.sha256(b"core-master-key\x00" + master).hexdigest()[:16]


def _wrap_aad(project: str, subject: str, generation: int) -> bytes:
    return f"{project}\x1f{subject}\x1f{generation}".encode()


def wrap(master: bytes, ref: KeyRef, key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _wrap_aad(*ref))


def unwrap(master: bytes, ref: KeyRef, wrapped: bytes) -> bytes:
    return AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(*ref))


KEYS_CHANNEL = "core_subject_keys"


class KeyRing:
    def __init__(self, master: bytes, cache_max: int = CACHE_MAX) -> None:
        self.master = master
        self.master_id = master_id(master)
        self.cache_max = cache_max
        self._cache: OrderedDict[tuple[KeyRef, bytes], bytes] = OrderedDict()
        self.live: NotifiedCache[tuple[str, str], tuple[int, bytes]] | None = None

    def listen(self, dsn: str) -> NotifiedCache[tuple[str, str], tuple[int, bytes]]:
        """Cache each subject's live write key in this process: a trigger (migration 0025)
        NOTIFYs every change of `subject_keys` (destroyed, re-wrapped), which clears the
        cache; while the LISTEN connection is down, write keys are read uncached."""
        self.live = NotifiedCache("subject-keys", dsn, KEYS_CHANNEL, self.cache_max)
        self.live.start()
        return self.live

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing | None:
        master = master_key_from(settings)
        return cls(master) if master is not None else None

    def _unwrap(self, ref: KeyRef, wrapped: bytes) -> bytes:
        entry = (ref, wrapped)
        key = self._cache.get(entry)
        if key is None:
            key = self._cache[entry] = unwrap(self.master, ref, wrapped)
            if len(self._cache) > self.cache_max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(entry)
        return key

    def evict(self, project: str, subject: str) -> None:
        for entry in [e for e in self._cache if e[0][:2] == (project, subject)]:
            del self._cache[entry]

    async def batch_keys(self, conn: asyncpg.Connection, raws: Iterable[bytes]) -> SubjectKeys:
        """The data keys of every sealed record among `raws` (None: destroyed)."""
        refs: set[KeyRef] = set()
        for raw in raws:
            if b'"key_gen"' not in raw:  # plaintext: no second parse
                continue
            try:
                ref = sealed_ref(parse_record(raw))
            except DecodeError:
                continue
            if ref is not None:
                refs.add(ref)
        return await self.keys_for(conn, refs)

    async def keys_for(self, conn: asyncpg.Connection, refs: Iterable[KeyRef]) -> SubjectKeys:
        wanted = sorted(set(refs))
        if not wanted:
            return {}
        rows = await conn.fetch(LIVE_KEYS_SQL, [r[0] for r in wanted], [r[1] for r in wanted],
                                [r[2] for r in wanted])
        keys: dict[KeyRef, bytes | None] = {}
        for r in rows:
            ref = (r["project_id"], r["subject_id"], r["generation"])
            wrapped = r["wrapped_key"]
            keys[ref] = None if wrapped is None else self._unwrap(ref, bytes(wrapped))
        return keys

    async def write_key(self, pool: asyncpg.Pool, project: str, subject: str) -> tuple[int, bytes]:
        """The subject's live generation and key, creating the next generation if none is
        live (first write, or the first write after a forget)."""
        live = self.live
        if live is not None and (hit := live.get((project, subject))) is not None:
            return hit
        since = live.generation if live is not None else 0
        found = await self._write_key(pool, project, subject)
        if live is not None:
            live.put((project, subject), found, since)
        return found

    async def _write_key(self, pool: asyncpg.Pool, project: str,
                         subject: str) -> tuple[int, bytes]:
        async with pool.acquire() as conn:
            for _ in range(5):
                row = await conn.fetchrow(LIVE_KEY_SQL, project, subject)
                if row is not None:
                    ref = (project, subject, int(row["generation"]))
                    return ref[2], self._unwrap(ref, bytes(row["wrapped_key"]))
                key = os.urandom(KEY_BYTES)
                generation = await self._insert(conn, project, subject, key)
                if generation is not None:
                    return generation, key
        raise RuntimeError(f"no data key for subject {subject!r} in {project!r}")

    async def _insert(self, conn: asyncpg.Connection, project: str, subject: str,
                      key: bytes) -> int | None:
        """Insert the next generation; None when another process won the race."""
        ref = (project, subject, await last_generation(conn, project, subject) + 1)
        async with conn.transaction():
            await lock_subject(conn, project, subject)
            return await conn.fetchval(  # type: ignore[no-any-return]
                NEW_KEY_SQL, *ref, wrap(self.master, ref, key), self.master_id)

    def sealer(self, pool: asyncpg.Pool) -> Callable[[dict[str, Any], str],
                                                     Awaitable[dict[str, Any]]]:
        """Seals a record (an envelope as a dict) with its subject's live data key."""
        async def seal(data: dict[str, Any], id_field: str) -> dict[str, Any]:
            generation, key = await self.write_key(pool, data["project_id"], data["subject_id"])
            return seal_record(data, id_field, generation, key)

        return seal

    def opener(self, pool: asyncpg.Pool, id_field: str = "change_id") -> Opener:
        """Opens a batch of raw records (e.g. of `core.changes`) to their plaintext JSON;
        None for one whose key is destroyed or unknown. Plaintext passes unchanged."""
        async def open_batch(raws: Sequence[bytes | None]) -> list[bytes | None]:
            if not any(raw and KEY_GEN.encode() in raw for raw in raws):
                return list(raws)
            async with pool.acquire() as conn:
                keys = await self.batch_keys(conn, (raw for raw in raws if raw))
            return [_opened(raw, id_field, keys) for raw in raws]

        return open_batch


Opener = Callable[[Sequence[bytes | None]], Awaitable[list[bytes | None]]]


def _opened(raw: bytes | None, id_field: str, keys: SubjectKeys) -> bytes | None:
    try:
        data = parse_record(raw or b"")
        return raw if KEY_GEN not in data else orjson.dumps(open_record(data, id_field, keys))
    except (DecodeError, SealError):
        return None


async def lock_subject(conn: asyncpg.Connection, project: str, subject: str) -> None:
    """Serialises a new generation against a forget's choice of the generations it ends
    (transaction-scoped)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                       f"core-subject-key\x1f{project}\x1f{subject}")


async def last_generation(conn: asyncpg.Connection, project: str, subject: str) -> int:
    return int(await conn.fetchval(
        "SELECT coalesce(max(generation), 0) FROM public.subject_keys "
        "WHERE project_id = $1 AND subject_id = $2", project, subject))


async def destroy_keys(conn: asyncpg.Connection, project: str, subject: str, up_to: int,
                       at: Any) -> int:
    """Destroy the subject's generations up to `up_to` (in the caller's transaction). A
    later generation belongs to writes after the forget and survives a replay of it."""
    result = await conn.execute(
        "UPDATE public.subject_keys SET wrapped_key = NULL, master_id = NULL, destroyed_at = $4 "
        "WHERE project_id = $1 AND subject_id = $2 AND generation <= $3 "
        "AND destroyed_at IS NULL", project, subject, up_to, at)
    return int(result.split()[-1])


async def rotate_master(conn: asyncpg.Connection, old: bytes, new: bytes) -> int:
    """Re-wrap every live data key from `old` to `new` in one transaction; the log is
    untouched (it holds data-key ciphertext only). Keys already under `new` are skipped."""
    new_id = master_id(new)
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT project_id, subject_id, generation, wrapped_key, master_id "
            "FROM public.subject_keys WHERE destroyed_at IS NULL FOR UPDATE")
        updates = []
        for r in rows:
            if r["master_id"] == new_id:
                continue
            ref = (r["project_id"], r["subject_id"], r["generation"])
            key = unwrap(old, ref, bytes(r["wrapped_key"]))
            updates.append((*ref, wrap(new, ref, key), new_id))
        await conn.executemany(
            "UPDATE public.subject_keys SET wrapped_key = $4, master_id = $5 "
            "WHERE project_id = $1 AND subject_id = $2 AND generation = $3", updates)
    return len(updates)
