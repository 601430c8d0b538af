-- Indexes no query uses, each paid on every memory insert (docs/bench.md):
--   idx_memories_text_trgm      a full-text (tsvector) GIN of the reference schema; CORE's
--                               lexical search is ILIKE over the partial trigram index
--                               idx_memories_text_trigram
--   idx_memories_project_subject   a prefix of idx_memories_project_subject_active
--   idx_memories_superseded     the superseded list (status, NOT is_deleted, created_at
--                               order) is served by idx_memories_project_subject_active
DROP INDEX IF EXISTS idx_memories_text_trgm;
DROP INDEX IF EXISTS idx_memories_project_subject;
DROP INDEX IF EXISTS idx_memories_superseded;
