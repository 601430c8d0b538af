"""The `subjects` projection: each subject's memory and claim counts and last activity.

Maintained in the batch's transaction with one statement per batch: the batch's events are
grouped per subject in Python, and the counts of the touched subjects are recounted from
`memories` and `claims` as they stand at the end of the batch (after every handler wrote).
Recounting is exact whatever the handlers decided (duplicate skips, supersession, deletes of
superseded memories, retractions), so no delta rule can drift from the rows. The activity
time is the latest `occurred_at` of the subject's events: no clock, so a replay writes the
same rows as the live projector.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from projections.timeline import TimelineRow
from projections.unit_of_work import Change

Touched = dict[tuple[str, str], datetime]

UPSERT_SQL = """
INSERT INTO subjects AS s (project_id, subject_id, memory_count, claim_count, last_activity_at)
SELECT t.project_id, t.subject_id,
  (SELECT count(*) FROM memories m WHERE m.project_id = t.project_id
     AND m.subject_id = t.subject_id AND m.status = 'active' AND NOT m.is_deleted),
  (SELECT count(*) FROM claims c WHERE c.project_id = t.project_id
     AND c.subject_id = t.subject_id AND c.status = 'active'),
  t.at
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(project_id, subject_id, at)
ON CONFLICT (project_id, subject_id) DO UPDATE SET
  memory_count = EXCLUDED.memory_count, claim_count = EXCLUDED.claim_count,
  last_activity_at = GREATEST(s.last_activity_at, EXCLUDED.last_activity_at)
"""
# Timeline rows: (project_id, subject_id, partition, offset, event_id, type, v, occurred_at, …)
_PROJECT, _SUBJECT, _OCCURRED_AT = 0, 1, 7


def touched_subjects(timeline: Iterable[TimelineRow], changes: Iterable[Change]) -> Touched:
    """(project, subject) → latest occurred_at, over the applied events and the changes they
    made (a change may name another subject than its event)."""
    touched: Touched = {}

    def touch(project: str, subject: str, at: datetime) -> None:
        found = touched.get((project, subject))
        if subject and (found is None or at > found):
            touched[(project, subject)] = at

    for row in timeline:
        touch(row[_PROJECT], row[_SUBJECT], row[_OCCURRED_AT])
    for change in changes:
        touch(change.project_id, change.subject_id, change.occurred_at)
    return touched


async def store_subjects(conn: asyncpg.Connection, timeline: Iterable[TimelineRow],
                         changes: Iterable[Change]) -> None:
    touched = touched_subjects(timeline, changes)
    if not touched:
        return
    keys = sorted(touched)  # one lock order for every writer
    await conn.execute(UPSERT_SQL, [p for p, _ in keys], [s for _, s in keys],
                       [touched[k] for k in keys])
