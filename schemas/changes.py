"""Record types of `core.changes`: derived lifecycle changes relayed from the projector's outbox.

Compatibility rules: a type is a stable wire name, never renamed or reused; consumers
ignore types they do not know; a payload only gains fields. The envelope of every record
is `schemas.envelope.ChangeEnvelope`.
"""

from __future__ import annotations

MEMORY_CREATED = "memory.created"
MEMORY_SUPERSEDED = "memory.superseded"
MEMORY_UPDATED = "memory.updated"
MEMORY_DELETED = "memory.deleted"
MEMORY_EXTRACTION_REQUESTED = "memory.extraction_requested"
"""Not shown to SSE clients: asks the claim extraction agent to extract from a new memory."""

CLAIM_ASSERTED = "claim.asserted"
CLAIM_RETRACTED = "claim.retracted"
SLOT_CHANGED = "slot.changed"
SUBJECT_FORGOTTEN = "subject.forgotten"
"""Shown to SSE streams that ask for it (`include=subject.forgotten`): the subject's rows are
gone and its log records unreadable."""

MEMORY_CHANGES = frozenset({MEMORY_CREATED, MEMORY_SUPERSEDED, MEMORY_UPDATED, MEMORY_DELETED})
CLAIM_CHANGES = frozenset({CLAIM_ASSERTED, CLAIM_RETRACTED, SLOT_CHANGED})
