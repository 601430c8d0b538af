-- Every applied event in log order, per subject: the analysts' timeline (no embeddings).
CREATE TABLE subject_events (
  project_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  topic_partition INTEGER NOT NULL,
  log_offset BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  v INTEGER NOT NULL,
  occurred_at TIMESTAMPTZ NOT NULL,
  actor TEXT NOT NULL,
  idempotency_key TEXT,
  payload JSONB NOT NULL,
  outcome_status INTEGER,
  PRIMARY KEY (project_id, subject_id, topic_partition, log_offset)
);

-- Which schema holds the live projection (a rebuild switches it). Absent row: public.
CREATE TABLE projection_pointer (
  singleton BOOLEAN PRIMARY KEY DEFAULT true CHECK (singleton),
  schema_name TEXT NOT NULL,
  switched_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
