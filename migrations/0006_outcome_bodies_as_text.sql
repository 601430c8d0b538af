-- Stored answers are replayed byte for byte: keep their JSON text (jsonb would reorder keys).
ALTER TABLE command_outcomes ALTER COLUMN body TYPE TEXT USING body::text;
ALTER TABLE idempotency_keys ALTER COLUMN body TYPE TEXT USING body::text;
