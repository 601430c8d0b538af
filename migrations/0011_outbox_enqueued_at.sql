-- When a change entered the outbox, so /ready and the worker's metrics can tell a relay that
-- is behind or down. Delivery state only: replays write no outbox rows.
ALTER TABLE outbox ADD COLUMN enqueued_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp();
