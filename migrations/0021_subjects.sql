-- The subjects of each project, most recently active first (GET /api/v1/subjects): kept by
-- the projector in the batch's transaction. memory_count = active, non-deleted memories;
-- claim_count = active claims; last_activity_at = the latest occurred_at of an applied event.
CREATE TABLE subjects (
  project_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  memory_count INTEGER NOT NULL DEFAULT 0,
  claim_count INTEGER NOT NULL DEFAULT 0,
  last_activity_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (project_id, subject_id)
);
-- Listing order and its cursor: (last_activity_at DESC, subject_id DESC) within a project.
CREATE INDEX idx_subjects_recent ON subjects (project_id, last_activity_at DESC, subject_id DESC);
-- Prefix search (subject_id LIKE 'p%' in byte order).
CREATE INDEX idx_subjects_prefix ON subjects (project_id, subject_id text_pattern_ops);

-- Subjects projected before this table existed.
INSERT INTO subjects (project_id, subject_id, memory_count, claim_count, last_activity_at)
SELECT e.project_id, e.subject_id,
       (SELECT count(*) FROM memories m WHERE m.project_id = e.project_id
          AND m.subject_id = e.subject_id AND m.status = 'active' AND NOT m.is_deleted),
       (SELECT count(*) FROM claims c WHERE c.project_id = e.project_id
          AND c.subject_id = e.subject_id AND c.status = 'active'),
       max(e.occurred_at)
FROM subject_events e
WHERE e.subject_id <> ''
GROUP BY e.project_id, e.subject_id;
