-- Dead letters are parked in the projector's transaction, beside the position that passes
-- them, and relayed to the DLQ topic at least once (keyed by their origin); the raw record is
-- kept as bytes, since a poison record may hold what text and jsonb refuse (NUL characters).
CREATE TABLE dead_letter_outbox (
  id BIGSERIAL PRIMARY KEY,
  origin_topic TEXT NOT NULL,
  origin_partition INT NOT NULL,
  origin_offset BIGINT NOT NULL,
  record_key BYTEA,
  record_value BYTEA NOT NULL,
  reason TEXT NOT NULL,
  enqueued_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (origin_topic, origin_partition, origin_offset)
);
