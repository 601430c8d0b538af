-- Short-lived tokens for browser EventSource clients (POST /api/v1/events/tokens): only a
-- SHA-256 of the token is kept, with what it is bound to. Shared by every API process, so
-- a reconnect reaching another (or a restarted) process is admitted too.
CREATE TABLE stream_tokens (
  token_hash TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  subject_id TEXT,
  scopes TEXT[] NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX stream_tokens_expiry ON stream_tokens (expires_at);
