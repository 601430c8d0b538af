-- CORE's own bookkeeping beside the reference schema.
CREATE TABLE schema_migrations (
  version TEXT PRIMARY KEY,
  checksum TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Next offset to apply per (consumer, topic, partition); written in the same transaction as
-- the projection rows, so a batch and its position commit together.
CREATE TABLE projection_offsets (
  consumer TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset BIGINT NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, topic, partition)
);

-- The projector's decision for each command event, read by the waiting API handler.
CREATE TABLE command_outcomes (
  event_id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  status INTEGER NOT NULL,
  body JSONB NOT NULL,
  idempotency_key TEXT,
  decided_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX command_outcomes_idempotency
  ON command_outcomes (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Derived lifecycle events waiting to be relayed to the changes topic.
CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,
  change_id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  type TEXT NOT NULL,
  payload JSONB NOT NULL,
  source_event_id TEXT NOT NULL,
  occurred_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE idempotency_keys (
  project_id TEXT NOT NULL,
  principal TEXT NOT NULL,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  event_id TEXT,
  status INTEGER,
  body JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  completed_at TIMESTAMPTZ,
  PRIMARY KEY (project_id, principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Exact re-post detection without embeddings (spec §15 Q22): same subject, same
-- whitespace-normalised, case-insensitive text.
CREATE INDEX idx_memories_normalized_text
  ON memories (project_id, subject_id, md5(lower(regexp_replace(btrim(text), '\s+', ' ', 'g'))))
  WHERE status = 'active' AND NOT is_deleted;
