-- Indexes of the store search (queries/search_store.py), which scores exactly only a
-- candidate set: the k nearest memories found by an HNSW index, plus the best lexical
-- matches found through a trigram index.

-- The reference's ivfflat index, if a migrated-in database has it: never usable by the
-- similarity expressions, it only slowed writes down.
DROP INDEX IF EXISTS idx_memories_embedding_ivfflat;

-- Approximate nearest neighbours by cosine distance (`embedding <=> q`), over the rows a
-- search can return. The predicate `importance >= 0` holds for every row (a CHECK
-- constraint says 0..100) and makes the index opt-in: only a query that states it can use
-- it. Exact similarity queries (the projector's duplicate and supersession checks, which a
-- replay must repeat identically) never silently become approximate.
CREATE INDEX IF NOT EXISTS idx_memories_embedding_hnsw
  ON memories USING hnsw (embedding vector_cosine_ops)
  WHERE status = 'active' AND NOT is_deleted AND importance >= 0;

-- Lexical candidates: substring matching (`text ILIKE '%token%'`) of tokens with 3+
-- characters through trigrams; for tokens that match many memories, the most important
-- matches first (also the order of the search without embeddings), stopping early.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS idx_memories_text_trigram
  ON memories USING gin (text gin_trgm_ops)
  WHERE status = 'active' AND NOT is_deleted;
CREATE INDEX IF NOT EXISTS idx_memories_subject_importance
  ON memories (project_id, subject_id, importance DESC, created_at DESC)
  WHERE status = 'active' AND NOT is_deleted;

-- pgvector declares its distance functions with the default cost (1), so the planner
-- believes that scoring every row of a 10k-memory subject exactly is cheaper than an
-- index scan, while it is ~15x slower. A realistic cost lets it switch to the HNSW index
-- from a few thousand memories per subject. Where the function belongs to another role
-- (managed services) or lives outside the search path, the default stays: still correct,
-- only slower for mid-sized subjects. A dump/restore or extension upgrade may reset it.
DO $$
BEGIN
  ALTER FUNCTION cosine_distance(vector, vector) COST 50;
EXCEPTION WHEN insufficient_privilege OR undefined_function THEN
  RAISE NOTICE 'cosine_distance cost left at its default: %', SQLERRM;
END
$$;
