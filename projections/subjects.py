"""The `subjects` projection: each subject's memory and claim counts and last activity.

Maintained in the batch's transaction with one statement per batch: the batch's events are
grouped per subject in Python, and the counts of each subject with a count-moving change in
the batch are recounted from `memories` and `claims` as they stand at the end of the batch
(after every handler wrote); other touched subjects only get their activity time.
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
from schemas import changes as kinds
from schemas.subject_events import SUBJECT_FORGOTTEN

# Every change of a memory's or claim's state is a change row (SSE depends on it); these are
# the kinds that can move a count. A subject without one in the batch keeps its counts.
COUNTED = frozenset({kinds.MEMORY_CREATED, kinds.MEMORY_SUPERSEDED, kinds.MEMORY_UPDATED,
                     kinds.MEMORY_DELETED, kinds.CLAIM_ASSERTED, kinds.CLAIM_RETRACTED})
Touched = dict[tuple[str, str], tuple[datetime, bool]]
"""(project, subject) → (latest occurred_at, whether its counts may have moved)."""

# -1 = "keep the stored count": only proposed for a subject whose row exists, so it never
# lands in a new row (a subject lives in one partition: no concurrent first insert).
UPSERT_SQL = """
INSERT INTO subjects AS s (project_id, subject_id, memory_count, claim_count, last_activity_at)
SELECT t.project_id, t.subject_id,
  CASE WHEN t.recount OR t.is_new THEN (SELECT count(*) FROM memories m
    WHERE m.project_id = t.project_id AND m.subject_id = t.subject_id
      AND m.status = 'active' AND NOT m.is_deleted) ELSE -1 END,
  CASE WHEN t.recount OR t.is_new THEN (SELECT count(*) FROM claims c
    WHERE c.project_id = t.project_id AND c.subject_id = t.subject_id
      AND c.status = 'active') ELSE -1 END,
  t.at
FROM (SELECT u.*, NOT EXISTS (SELECT 1 FROM subjects x WHERE x.project_id = u.project_id
        AND x.subject_id = u.subject_id) AS is_new
      FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bool[])
        AS u(project_id, subject_id, at, recount)) t
ON CONFLICT (project_id, subject_id) DO UPDATE SET
  memory_count = CASE WHEN EXCLUDED.memory_count < 0 THEN s.memory_count
                      ELSE EXCLUDED.memory_count END,
  claim_count = CASE WHEN EXCLUDED.claim_count < 0 THEN s.claim_count
                     ELSE EXCLUDED.claim_count END,
  last_activity_at = GREATEST(s.last_activity_at, EXCLUDED.last_activity_at)
"""
# Timeline rows: (project_id, subject_id, partition, offset, event_id, type, v, occurred_at, …)
_PROJECT, _SUBJECT, _TYPE, _OCCURRED_AT = 0, 1, 5, 7


def touched_subjects(timeline: Iterable[TimelineRow], changes: Iterable[Change]) -> Touched:
    """Per subject of the applied events and of the changes they made (a change may name
    another subject than its event): the latest activity and whether to recount."""
    touched: Touched = {}

    def touch(project: str, subject: str, at: datetime, recount: bool) -> None:
        if not subject:
            return
        found_at, found_recount = touched.get((project, subject), (at, False))
        touched[(project, subject)] = (max(at, found_at), recount or found_recount)

    rows = list(timeline)
    # A forget erased the subject's row: only what follows the last forget of the batch
    # brings it back (a new row, so it is recounted whatever the changes say).
    forgotten = {(row[_PROJECT], row[_SUBJECT]): n for n, row in enumerate(rows)
                 if row[_TYPE] == SUBJECT_FORGOTTEN}
    for n, row in enumerate(rows):
        if n > forgotten.get((row[_PROJECT], row[_SUBJECT]), -1):
            touch(row[_PROJECT], row[_SUBJECT], row[_OCCURRED_AT], False)
    for change in changes:
        if (change.project_id, change.subject_id) not in forgotten:
            touch(change.project_id, change.subject_id, change.occurred_at,
                  change.type in COUNTED)
    return touched


async def store_subjects(conn: asyncpg.Connection, timeline: Iterable[TimelineRow],
                         changes: Iterable[Change]) -> None:
    touched = touched_subjects(timeline, changes)
    if not touched:
        return
    keys = sorted(touched)  # one lock order for every writer
    await conn.execute(UPSERT_SQL, [p for p, _ in keys], [s for _, s in keys],
                       [touched[k][0] for k in keys], [touched[k][1] for k in keys])
