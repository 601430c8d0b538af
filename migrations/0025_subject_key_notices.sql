-- API and worker processes cache each subject's live data key for writes; destroying or
-- re-wrapping a key (a forget, a master-key rotation, SQL by hand) is announced on
-- `core_subject_keys` the moment it commits, which clears those caches.
CREATE OR REPLACE FUNCTION core_subject_key_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('core_subject_keys', COALESCE(OLD.project_id, NEW.project_id));
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER subject_keys_changed
AFTER UPDATE OR DELETE ON subject_keys
FOR EACH ROW EXECUTE FUNCTION core_subject_key_changed();
