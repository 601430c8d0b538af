"""Folds `memory.recalled` events into `memory_recall_events` (spec §9, §15 Q14).

Ordering key: project + subject. Idempotency: offsets (see `projections.applier`), and
every row id travels in the event (`ON CONFLICT DO NOTHING` on a re-applied event).
`recalled_at` is the event's `occurred_at`. A recall of a memory that is not in the
project is dropped, so the result depends only on the log. `memory_text` is the memory's
text in `memories` read in this transaction (the event carries no text since v2): the
table state at this log position, so a replay writes the same text. No outcome: nobody
waits.
"""

from __future__ import annotations

from projections.unit_of_work import EventTx, Handler
from schemas.memory_events import MEMORY_RECALLED, MemoryRecalled
from schemas.outcomes import Outcome

INSERT_SQL = """
INSERT INTO memory_recall_events (event_id, project_id, subject_id, memory_id, memory_text,
  chat_id, message_index, chat_logged, similarity_score, request_type, model, metadata,
  recalled_at)
SELECT r.event_id, $1, $2, r.memory_id, m.text, $3, $4, true, r.score, $5, $6, $7, $8
FROM unnest($9::text[], $10::text[], $11::float8[]) AS r(event_id, memory_id, score)
JOIN memories m ON m.id = r.memory_id AND m.project_id = $1
ON CONFLICT (event_id) DO NOTHING
"""


async def recalled(tx: EventTx) -> Outcome | None:
    event = MemoryRecalled.model_validate(tx.event.payload)
    recalls = event.recalls
    await tx.conn.execute(
        INSERT_SQL, tx.event.project_id, tx.event.subject_id, event.chat_id,
        event.message_index, event.request_type, event.model, event.metadata,
        tx.event.occurred_at, [r.event_id for r in recalls], [r.memory_id for r in recalls],
        [r.similarity_score for r in recalls])
    return None


HANDLERS: dict[str, Handler] = {MEMORY_RECALLED: recalled}
