-- Claim extraction requests, queued by the projector in the transaction that creates the
-- memory and deleted by the extraction agent once its `claims.extracted` event is produced:
-- the queue is the agent's position, so no request is lost to a crash or an outage.
CREATE TABLE extraction_requests (
  id BIGSERIAL PRIMARY KEY,
  source_event_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  text TEXT NOT NULL,
  enqueued_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (source_event_id, memory_id)
);
