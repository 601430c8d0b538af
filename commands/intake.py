"""The Kafka command intake: producers that speak Kafka publish commands to
`<prefix>.commands` instead of calling the HTTP routes (docs/producers.md).

A record's value is the HTTP body plus `type`, `project_id` and a required
`idempotency_key`; its credential (API key or JWT) travels in a header, because a consumer
never learns which Kafka principal produced a record. Each record is verified as the HTTP
edge verifies a request (credential, project, scope), validated by the routes' own drafters,
embedded with its batch's other texts, and becomes the same event, whose actor is the
credential's principal. A refused record goes to `<prefix>.commands.rejected` with the
original record, the error code and the reason.

Offsets are committed after a batch's events are produced, so a crash redelivers commands;
their events carry the command's idempotency key and actor, so the projector gives a second
event of one key the first one's outcome: each command takes effect once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from commands.batch import Drafter, draft_one, embed_drafts
from commands.claim_extraction import ClaimDecider
from commands.context import EmbedMany
from commands.create_memory import memory_draft
from commands.drafts import Answer, Draft, draft_event
from commands.intake_drafts import COMMANDS
from commands.publisher import produce_event
from kernel.http import InvalidBody, js_falsy
from kernel.input_limits import Invalid, checked_value, identifier

log = logging.getLogger("core.commands.intake")
MAX_KEY_LENGTH = 255
ENVELOPE_FIELDS = ("type", "project_id", "idempotency_key")
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})
BATCH_MAX = 500
# Idle cost: a heartbeat every third of the session timeout (Kafka's ratio; a member still
# learns of a rebalance within 3 s) and a long poll the broker answers as soon as a command
# arrives (it only delays a fetch after a rebalance, by at most this long).
HEARTBEAT_MS = 3_000
FETCH_WAIT_MS = 5_000


class Principal(Protocol):
    @property
    def id(self) -> str: ...

    def may_use(self, project_id: str) -> bool: ...

    def holds(self, scope: str) -> bool: ...


class Refused(Exception):  # noqa: N818 (a verdict, not a failure)
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


Verify = Callable[[str | None], Awaitable[Principal]]
"""The HTTP edge's credential check; raises Refused (401) for a missing or bad credential."""


@dataclass(frozen=True)
class Admitted:
    drafter: Drafter
    project_id: str
    actor: str
    key: str
    body: dict[str, Any] | Invalid


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str:
    for key, value in record.headers or ():
        if key.lower() == name:
            return value.decode(errors="replace") if value else ""
    return ""


def credential(record: ConsumerRecord[bytes, bytes]) -> str | None:
    scheme, _, value = header(record, "authorization").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return header(record, "x-api-key").strip() or None


def command_of(raw: bytes | None) -> dict[str, Any]:
    try:
        value = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or js_falsy(value):
        raise Refused(400, "invalid_json_body", "the value must be a JSON object")
    return value


def envelope_fields(command: dict[str, Any]) -> tuple[Drafter, str, str, str]:
    kind = command.get("type")
    if not isinstance(kind, str) or kind not in COMMANDS:
        raise Refused(400, "unknown_command_type", f"type must be one of {sorted(COMMANDS)}")
    drafter, scope = COMMANDS[kind]
    project = command.get("project_id")
    if not isinstance(project, str) or not project.strip():
        raise Refused(400, "project_id_required", "project_id is required")
    try:
        identifier(project, "project_id")
    except Invalid as bad:
        raise Refused(400, str(bad.body["error"]), "project_id is not a valid identifier") \
            from None
    key = command.get("idempotency_key")
    if not isinstance(key, str) or not key.strip():
        raise Refused(400, "idempotency_key_required", "idempotency_key is required")
    if len(key) > MAX_KEY_LENGTH:
        raise Refused(400, "invalid_idempotency_key",
                      f"idempotency_key is longer than {MAX_KEY_LENGTH} characters")
    return drafter, scope, project, key


def body_of(command: dict[str, Any]) -> dict[str, Any] | Invalid:
    try:
        return checked_value({k: v for k, v in command.items() if k not in ENVELOPE_FIELDS})
    except InvalidBody:
        return Invalid(400, {"error": "invalid_json_body"})
    except Invalid as bad:
        return bad


def rejection(record: ConsumerRecord[bytes, bytes], status: int, code: str, reason: str,
              detail: Any = None) -> bytes:
    headers = [[k, (v or b"").decode(errors="replace")] for k, v in record.headers or ()
               if k.lower() not in CREDENTIAL_HEADERS]
    original = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                "timestamp": record.timestamp,
                "key": record.key.decode(errors="replace") if record.key else None,
                "value": (record.value or b"").decode(errors="replace"), "headers": headers}
    return orjson.dumps({"error": code, "reason": reason, "status": status,
                         "detail": detail, "original": original})


@dataclass
class CommandIntake:
    pool: asyncpg.Pool
    embed_many: EmbedMany
    producer: AIOKafkaProducer
    verify: Verify
    bootstrap: str
    topic: str
    rejected_topic: str
    events_topic: str
    group: str
    decide: ClaimDecider | None = None

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=10_000, heartbeat_interval_ms=HEARTBEAT_MS,
            fetch_max_wait_ms=FETCH_WAIT_MS)
        await consumer.start()
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=1000, max_records=BATCH_MAX)
                records = [r for batch in fetched.values() for r in batch]
                if records:
                    await self.handle(records)
                    await consumer.commit()
        finally:
            await consumer.stop()

    async def handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Produce the events of a batch's valid commands and the refusals of the others."""
        principals: dict[str | None, Principal | Refused] = {}
        verdicts = [await self._admit(r, principals) for r in records]
        admitted = [v for v in verdicts if isinstance(v, Admitted)]
        drafts = await asyncio.gather(*(draft_one(a.drafter, self.pool, a.project_id, a.body)
                                        for a in admitted))
        vectors = await embed_drafts(self.embed_many, drafts)
        outcome: dict[int, Draft | Answer | Invalid] = {
            id(a): d for a, d in zip(admitted, drafts, strict=True)}
        vector: dict[int, list[float]] = {
            id(a): v for a, v in zip(admitted, vectors, strict=True)}
        sends = []
        for record, verdict in zip(records, verdicts, strict=True):
            if isinstance(verdict, Refused):
                sends.append(self._reject(record, verdict.status, verdict.code, verdict.reason))
                continue
            draft = outcome[id(verdict)]
            if isinstance(draft, Invalid):
                reason = str(draft.body.get("message") or draft.body.get("error"))
                sends.append(self._reject(record, draft.status, str(draft.body.get("error")),
                                          reason, draft.body))
            elif isinstance(draft, Draft):
                event = draft_event(draft, vector[id(verdict)], project_id=verdict.project_id,
                                    actor=verdict.actor, idempotency_key=verdict.key)
                sends.append(produce_event(self.producer, self.events_topic, event))
        await asyncio.gather(*sends)

    async def _admit(self, record: ConsumerRecord[bytes, bytes],
                     principals: dict[str | None, Principal | Refused]) -> Admitted | Refused:
        try:
            command = command_of(record.value)
            drafter, scope, project, key = envelope_fields(command)
            token = credential(record)
            if token not in principals:
                try:
                    principals[token] = await self.verify(token)
                except Refused as refused:
                    principals[token] = refused
            principal = principals[token]
            if isinstance(principal, Refused):
                raise principal
            if not principal.may_use(project):
                raise Refused(403, "project_forbidden",
                              f"the credential may not use project {project!r}")
            if not principal.holds(scope):
                raise Refused(403, "insufficient_scope", f"{scope} is required")
        except Refused as refused:
            return refused
        if drafter is memory_draft:  # claims decided at write time, as over HTTP
            drafter = partial(memory_draft, decide=self.decide)
        return Admitted(drafter, project, principal.id, key, body_of(command))

    async def _reject(self, record: ConsumerRecord[bytes, bytes], status: int, code: str,
                      reason: str, detail: Any = None) -> None:
        log.info("command %s/%d@%d rejected: %s", record.topic, record.partition,
                 record.offset, code)
        await self.producer.send_and_wait(
            self.rejected_topic, rejection(record, status, code, reason, detail),
            key=record.key)
