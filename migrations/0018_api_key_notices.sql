-- Every API process caches key lookups; a change that can end or narrow a key's rights
-- (revocation, scopes, projects, deletion) is announced on `core_api_keys` the moment it
-- commits, whoever makes it (`core keys revoke`, or SQL by hand), and clears the caches.
CREATE OR REPLACE FUNCTION core_api_key_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('core_api_keys', COALESCE(OLD.id, NEW.id));
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_keys_changed
AFTER UPDATE OF revoked_at, scopes, projects, key_hash OR DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION core_api_key_changed();
