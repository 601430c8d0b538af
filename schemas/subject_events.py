"""Subject events (payloads inside an EventEnvelope on `core.events`).

* `subject.forgotten` — DELETE /api/v1/subjects/{subject_id}: the projector deletes every
  row of the subject and destroys its data keys in one transaction. Never sealed (its own
  key is what it destroys); it is the tombstone that a replay or a restore applies again.
"""

from __future__ import annotations

from schemas.envelope import FrozenModel

SUBJECT_FORGOTTEN = "subject.forgotten"
UNSEALED = frozenset({SUBJECT_FORGOTTEN})
"""Event types produced in clear even with a master key: they carry nothing personal."""


class SubjectForgotten(FrozenModel):
    """`up_to_generation`: the subject's last data-key generation when the forget was
    accepted; every generation up to it is destroyed, later ones (new writes) are not."""

    up_to_generation: int = 0
