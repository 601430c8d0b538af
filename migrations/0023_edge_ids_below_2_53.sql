-- edge_id stays a safe JSON integer (below 2^53): partition · 2^41 + the n-th edge stored
-- for the project in that partition. The counters live in the projection schema, so a
-- replay or rebuild into a fresh schema starts them from zero and reproduces every id.
-- Ids are unique per project, like memory and claim ids (0015).
CREATE TABLE edge_counters (
  project_id TEXT NOT NULL,
  partition INTEGER NOT NULL CHECK (partition BETWEEN 0 AND 4095),
  next_edge BIGINT NOT NULL CHECK (next_edge BETWEEN 0 AND 2199023255552),
  PRIMARY KEY (project_id, partition)
);

-- Existing edges carry partition · 2^53 + offset · 2^13 + k: renumber them as a replay
-- would, in the order of the old id (= log order) within each project and partition.
ALTER TABLE claim_edges DROP CONSTRAINT claim_edges_pkey;
ALTER TABLE claim_edges ALTER COLUMN edge_id DROP DEFAULT;
CREATE TEMP TABLE renumbered_edges ON COMMIT DROP AS
  SELECT edge_id AS old_id, project_id, (edge_id >> 53)::int AS part,
         row_number() OVER (PARTITION BY project_id, edge_id >> 53 ORDER BY edge_id) - 1 AS n
  FROM claim_edges;
UPDATE claim_edges e SET edge_id = (r.part::bigint << 41) + r.n
  FROM renumbered_edges r WHERE e.edge_id = r.old_id AND e.project_id = r.project_id;
INSERT INTO edge_counters (project_id, partition, next_edge)
  SELECT project_id, part, max(n) + 1 FROM renumbered_edges GROUP BY project_id, part;
ALTER TABLE claim_edges ADD CONSTRAINT claim_edges_pkey PRIMARY KEY (project_id, edge_id);
