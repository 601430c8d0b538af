-- Crypto-shredding (docs/security.md "Forgetting a subject"): one data key per project,
-- subject and generation, wrapped by the deployment's master key. A forget destroys every
-- generation of the subject (wrapped_key NULL, destroyed_at set); the next write starts a
-- new generation. A global table: it stays in public, so replays and rebuilds into other
-- schemas open the same records and skip the same forgotten ones.
CREATE TABLE subject_keys (
  project_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  wrapped_key BYTEA,
  master_id TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  destroyed_at TIMESTAMPTZ,
  PRIMARY KEY (project_id, subject_id, generation),
  CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
);
-- At most one live generation per subject.
CREATE UNIQUE INDEX subject_keys_live ON subject_keys (project_id, subject_id)
  WHERE destroyed_at IS NULL;

-- A forget deletes the subject's stored command answers, including those of events that
-- never reached the timeline (sealed under a destroyed key): outcomes name their subject.
ALTER TABLE command_outcomes ADD COLUMN subject_id TEXT;
UPDATE command_outcomes o SET subject_id = s.subject_id
FROM subject_events s
WHERE s.event_id = o.event_id AND s.project_id = o.project_id;
CREATE INDEX command_outcomes_subject ON command_outcomes (project_id, subject_id);
