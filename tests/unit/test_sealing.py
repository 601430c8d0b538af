"""Sealed payloads: clear envelope, AES-GCM payload bound to the record, destroyed keys
read as forgotten, unknown keys and tampering refused."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
import pytest
from cryptography.exceptions import InvalidTag

from core.supervisor import dev_master_key
from kernel.settings import Settings
from kernel.shredding import MasterKeyError, master_key_from, parse_master_key, unwrap, wrap
from projections.applier import without_forgotten
from schemas.decoding import DecodeError, Forgotten, decode_event
from schemas.envelope import EventEnvelope
from schemas.sealing import KEY_GEN, seal_record

pytestmark = pytest.mark.unit
KEY = os.urandom(32)
REF = ("proj", "alice", 1)
EVENT = {"event_id": "0192a000-0000-7000-8000-000000000001", "type": "memory.submitted",
         "v": 2, "project_id": "proj", "subject_id": "alice",
         "occurred_at": "2026-11-27T10:00:00.123Z", "actor": "key_x", "idempotency_key": None,
         "payload": {"id": "mem_1", "text": "Alice is allergic to peanuts", "claims": []}}


def sealed() -> bytes:
    return orjson.dumps(seal_record(EVENT, "event_id", 1, KEY))


def test_the_payload_is_ciphertext_and_the_envelope_stays_clear() -> None:
    raw = sealed()
    assert b"peanuts" not in raw and b"mem_1" not in raw
    data = orjson.loads(raw)
    assert data[KEY_GEN] == 1 and data["subject_id"] == "alice"
    assert data["event_id"] == EVENT["event_id"] and data["type"] == "memory.submitted"


def test_the_key_opens_it_to_the_plaintext_event() -> None:
    event = decode_event(sealed(), {REF: KEY})
    assert event.payload["text"] == "Alice is allergic to peanuts"
    assert event.event_id == EVENT["event_id"]


def test_a_destroyed_key_reads_as_forgotten_with_the_clear_envelope() -> None:
    with pytest.raises(Forgotten) as gone:
        decode_event(sealed(), {REF: None})
    assert gone.value.envelope.subject_id == "alice" and gone.value.envelope.payload == {}


def test_an_unknown_key_or_no_keys_is_a_decode_error_not_a_forget() -> None:
    for keys in ({}, {("proj", "alice", 2): KEY}):
        with pytest.raises(DecodeError) as refused:
            decode_event(sealed(), keys)
        assert not isinstance(refused.value, Forgotten)


def test_ciphertext_moved_to_another_event_does_not_open() -> None:
    moved = {**orjson.loads(sealed()), "event_id": "0192a000-0000-7000-8000-000000000009"}
    with pytest.raises(DecodeError, match="does not open"):
        decode_event(orjson.dumps(moved), {REF: KEY})


def test_another_key_does_not_open_it() -> None:
    with pytest.raises(DecodeError, match="does not open"):
        decode_event(sealed(), {REF: os.urandom(32)})


def test_plaintext_events_decode_as_before() -> None:
    assert decode_event(orjson.dumps(EVENT), {}).payload == EVENT["payload"]


def test_data_keys_unwrap_only_with_their_master_and_reference() -> None:
    master = os.urandom(32)
    wrapped = wrap(master, REF, KEY)
    assert unwrap(master, REF, wrapped) == KEY
    with pytest.raises(InvalidTag):
        unwrap(master, ("proj", "bob", 1), wrapped)
    with pytest.raises(InvalidTag):
        unwrap(os.urandom(32), REF, wrapped)


def test_master_keys_are_32_bytes_of_hex_or_base64() -> None:
    raw = os.urandom(32)
    assert parse_master_key(raw.hex()) == raw
    assert parse_master_key(base64.b64encode(raw).decode()) == raw
    assert parse_master_key(base64.urlsafe_b64encode(raw).decode().rstrip("=")) == raw
    for bad in ("short", base64.b64encode(os.urandom(16)).decode()):
        with pytest.raises(MasterKeyError):
            parse_master_key(bad)


def test_core_dev_generates_one_master_key_file_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(CORE_HOME=tmp_path)
    env = dev_master_key(tmp_path, settings)
    path = Path(env["CORE_MASTER_KEY_FILE"])
    assert path.stat().st_mode & 0o777 == 0o600
    first = parse_master_key(path.read_text())
    assert dev_master_key(tmp_path, settings) == env and parse_master_key(
        path.read_text()) == first
    assert master_key_from(Settings(CORE_MASTER_KEY_FILE=str(path))) == first
    given = Settings(CORE_MASTER_KEY=first.hex())
    assert dev_master_key(tmp_path, given) == {"CORE_MASTER_KEY": first.hex()}


def test_a_forget_in_a_batch_ends_the_keys_it_names_for_the_records_after_it() -> None:
    forget = EventEnvelope.model_validate({**EVENT, "type": "subject.forgotten",
                                           "payload": {"up_to_generation": 1}})
    keys = {REF: KEY, ("proj", "alice", 2): KEY, ("proj", "bob", 1): KEY}
    assert without_forgotten(keys, forget) == {REF: None, ("proj", "alice", 2): KEY,
                                               ("proj", "bob", 1): KEY}
