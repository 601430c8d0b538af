-- The W3C traceparent of the projector batch that wrote each change (NULL when traces are
-- off), so the outbox relay's span links to it even when another worker relays the row.
-- Delivery state only, like enqueued_at: replays write no outbox rows.
ALTER TABLE outbox ADD COLUMN trace_context TEXT;
