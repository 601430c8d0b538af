-- Who issued each command (the event's actor): it may always read its own outcome
-- (GET /api/v1/commands/{event_id}), whatever its read scopes. Older outcomes take the
-- actor recorded in the subject timeline.
ALTER TABLE command_outcomes ADD COLUMN actor TEXT;

UPDATE command_outcomes o SET actor = s.actor
FROM subject_events s
WHERE s.event_id = o.event_id AND s.project_id = o.project_id;
