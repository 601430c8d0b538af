-- As-of replays (POST /api/v1/admin/replays) as jobs: one row per replayed schema, so the
-- API can bound them per project (CORE_ASOF_MAX_PER_PROJECT), answer their status, and drop
-- them by age (CORE_ASOF_TTL_S). A global table: it stays in public.
CREATE TABLE asof_schemas (
  name TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  until TIMESTAMPTZ,
  state TEXT NOT NULL CHECK (state IN ('queued', 'building', 'ready', 'failed')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  finished_at TIMESTAMPTZ,
  result TEXT
);
CREATE INDEX asof_schemas_project ON asof_schemas (project_id, state);
CREATE INDEX asof_schemas_created ON asof_schemas (created_at);
