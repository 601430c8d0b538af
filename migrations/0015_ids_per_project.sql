-- Tenancy: memory and claim ids are unique per project, not across projects (a deviation
-- from the reference schema, spec §11; see docs/security.md, "Tenancy"). Every key and
-- every foreign key naming a memory or a claim carries project_id, so one project can
-- neither see (409) nor take an id of another. Works on a database with data: the old
-- constraints are dropped and re-created; the foreign keys are added NOT VALID (a row of a
-- migrated-in reference database may name a memory of another project, which its schema
-- allowed) and validated where the data allows it.
ALTER TABLE claims DROP CONSTRAINT IF EXISTS fk_claim_source_memory;
ALTER TABLE claim_assertions DROP CONSTRAINT IF EXISTS claim_assertions_claim_id_fkey;
ALTER TABLE claim_assertions DROP CONSTRAINT IF EXISTS claim_assertions_memory_id_fkey;
ALTER TABLE claim_edges DROP CONSTRAINT IF EXISTS claim_edges_from_claim_id_fkey;
ALTER TABLE claim_edges DROP CONSTRAINT IF EXISTS claim_edges_to_claim_id_fkey;
ALTER TABLE slot_state DROP CONSTRAINT IF EXISTS slot_state_active_claim_id_fkey;
ALTER TABLE memory_recall_events DROP CONSTRAINT IF EXISTS memory_recall_events_memory_id_fkey;

ALTER TABLE memories DROP CONSTRAINT memories_pkey,
  ADD CONSTRAINT memories_pkey PRIMARY KEY (project_id, id);
ALTER TABLE claims DROP CONSTRAINT claims_pkey,
  ADD CONSTRAINT claims_pkey PRIMARY KEY (project_id, claim_id);
-- Assertion ids of extracted claims derive from the memory id, which may now repeat.
ALTER TABLE claim_assertions DROP CONSTRAINT claim_assertions_pkey,
  ADD CONSTRAINT claim_assertions_pkey PRIMARY KEY (project_id, assertion_id);

-- ON DELETE SET NULL names its column: project_id is part of the key and stays.
ALTER TABLE claims ADD CONSTRAINT fk_claim_source_memory
  FOREIGN KEY (project_id, source_memory_id) REFERENCES memories (project_id, id)
  ON DELETE SET NULL (source_memory_id) NOT VALID;
ALTER TABLE claim_assertions ADD CONSTRAINT claim_assertions_claim_id_fkey
  FOREIGN KEY (project_id, claim_id) REFERENCES claims (project_id, claim_id)
  ON DELETE CASCADE NOT VALID;
ALTER TABLE claim_assertions ADD CONSTRAINT claim_assertions_memory_id_fkey
  FOREIGN KEY (project_id, memory_id) REFERENCES memories (project_id, id)
  ON DELETE SET NULL (memory_id) NOT VALID;
ALTER TABLE claim_edges ADD CONSTRAINT claim_edges_from_claim_id_fkey
  FOREIGN KEY (project_id, from_claim_id) REFERENCES claims (project_id, claim_id)
  ON DELETE CASCADE NOT VALID;
ALTER TABLE claim_edges ADD CONSTRAINT claim_edges_to_claim_id_fkey
  FOREIGN KEY (project_id, to_claim_id) REFERENCES claims (project_id, claim_id)
  ON DELETE CASCADE NOT VALID;
ALTER TABLE slot_state ADD CONSTRAINT slot_state_active_claim_id_fkey
  FOREIGN KEY (project_id, active_claim_id) REFERENCES claims (project_id, claim_id)
  ON DELETE SET NULL (active_claim_id) NOT VALID;
ALTER TABLE memory_recall_events ADD CONSTRAINT memory_recall_events_memory_id_fkey
  FOREIGN KEY (project_id, memory_id) REFERENCES memories (project_id, id)
  ON DELETE CASCADE NOT VALID;

DO $$
DECLARE fk RECORD;
BEGIN
  FOR fk IN SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
            WHERE contype = 'f' AND NOT convalidated AND conname IN (
              'fk_claim_source_memory', 'claim_assertions_claim_id_fkey',
              'claim_assertions_memory_id_fkey', 'claim_edges_from_claim_id_fkey',
              'claim_edges_to_claim_id_fkey', 'slot_state_active_claim_id_fkey',
              'memory_recall_events_memory_id_fkey')
            AND connamespace = (SELECT oid FROM pg_namespace
                                WHERE nspname = current_schema())
  LOOP
    BEGIN
      EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', fk.tbl, fk.conname);
    EXCEPTION WHEN foreign_key_violation THEN
      RAISE NOTICE '% stays NOT VALID (rows name another project''s row): %',
        fk.conname, SQLERRM;
    END;
  END LOOP;
END
$$;

-- Client-chosen ids, reserved by the API before their event is produced (see
-- commands/id_reservations.py): two subjects of a project sit in different partitions, so
-- only a reservation keeps a second subject's submission with the same id out of the log.
CREATE TABLE client_id_reservations (
  project_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  reserved_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, kind, id)
);
