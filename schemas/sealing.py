"""The sealed form of a record's payload (crypto-shredding, docs/security.md).

A sealed record keeps its envelope in clear (ids, type, version, project, subject, time,
actor, idempotency key) and gains `key_gen`, the generation of its subject's data key; its
payload becomes `{"sealed": base64(nonce ‖ AES-256-GCM ciphertext ‖ tag)}` of the JSON of
the plaintext payload. The associated data binds the ciphertext to its record id, type,
version, project, subject and generation, so it cannot be moved to another record.

A record without `key_gen` is plaintext (written before sealing, or by a deployment without
a master key) and decodes as before. Pure and synchronous: the caller brings the data keys
(`SubjectKeys`, looked up by `kernel.shredding` for a batch first).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_GEN = "key_gen"
SEALED = "sealed"
NONCE_BYTES = 12

KeyRef = tuple[str, str, int]
"""(project_id, subject_id, key generation)"""
SubjectKeys = Mapping[KeyRef, bytes | None]
"""Unwrapped data keys by reference; None for a destroyed (forgotten) key. An absent key is
unknown (e.g. lost with a restored database): an error, not a forget."""


class SealError(ValueError):
    """A sealed record that cannot be opened: malformed or tampered with."""


class KeyDestroyed(SealError):
    """The record's data key is gone: its subject was forgotten."""

    def __init__(self, ref: KeyRef) -> None:
        super().__init__(f"data key {ref[2]} of subject {ref[1]!r} in {ref[0]!r} is destroyed")
        self.ref = ref


def associated_data(data: Mapping[str, Any], id_field: str, generation: int) -> bytes:
    parts = (data.get(id_field), data.get("type"), data.get("v"), data.get("project_id"),
             data.get("subject_id"), generation)
    return "\x1f".join(str(p) for p in parts).encode()


def sealed_ref(data: Mapping[str, Any]) -> KeyRef | None:
    """The key a sealed record needs; None for plaintext (or no readable envelope)."""
    generation = data.get(KEY_GEN)
    project, subject = data.get("project_id"), data.get("subject_id")
    if not isinstance(generation, int) or not isinstance(project, str) \
            or not isinstance(subject, str):
        return None
    return project, subject, generation


def seal_record(data: Mapping[str, Any], id_field: str, generation: int,
                key: bytes) -> dict[str, Any]:
    """`data` (an envelope as a dict) with its payload sealed under `key`."""
    sealed = {k: v for k, v in data.items() if k != "payload"}
    sealed[KEY_GEN] = generation
    nonce = os.urandom(NONCE_BYTES)
    plaintext = orjson.dumps(data["payload"])
    cipher = AESGCM(key).encrypt(nonce, plaintext, associated_data(sealed, id_field, generation))
    sealed["payload"] = {SEALED: base64.b64encode(nonce + cipher).decode()}
    return sealed


def open_record(data: Mapping[str, Any], id_field: str, keys: SubjectKeys) -> dict[str, Any]:
    """`data` with its payload opened and `key_gen` dropped; plaintext passes unchanged.
    Raises `KeyDestroyed` when the key is destroyed, `SealError` when it is unknown or the
    payload does not open."""
    ref = sealed_ref(data)
    if KEY_GEN not in data:
        return dict(data)
    if ref is None:
        raise SealError("sealed record without a readable key reference")
    if ref not in keys:
        raise SealError(f"unknown data key {ref[2]} of subject {ref[1]!r} in {ref[0]!r}")
    key = keys[ref]
    if key is None:
        raise KeyDestroyed(ref)
    payload = data.get("payload")
    token = payload.get(SEALED) if isinstance(payload, dict) else None
    if not isinstance(token, str):
        raise SealError("sealed record without a sealed payload")
    try:
        raw = base64.b64decode(token, validate=True)
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                        associated_data(data, id_field, ref[2]))
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise SealError(f"sealed payload does not open: {exc!r}") from exc
    opened = {k: v for k, v in data.items() if k != KEY_GEN}
    opened["payload"] = orjson.loads(plaintext)
    return opened
