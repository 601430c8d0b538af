-- API keys: only a hash of the secret is stored; the key is shown once when created.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  key_hash TEXT NOT NULL UNIQUE,
  projects TEXT[] NOT NULL,
  scopes TEXT[] NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  last_used_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ
);

-- An idempotency claim is "in flight" until completed_at is set; a claim whose lease ran out
-- (the API died mid-request) may be taken over by a retry.
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMPTZ;
