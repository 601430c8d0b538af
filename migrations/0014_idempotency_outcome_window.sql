-- An idempotency key is remembered by the projector only within CORE_IDEMPOTENCY_TTL_S of
-- its outcome's decided_at (the event's occurred_at), like the API remembers it: a key
-- reused after that is a new request, and its outcome is stored under the same key beside
-- the old one. The unique index gives way to a lookup index.
DROP INDEX command_outcomes_idempotency;
CREATE INDEX command_outcomes_idempotency_window
  ON command_outcomes (project_id, idempotency_key, decided_at) WHERE idempotency_key IS NOT NULL;
