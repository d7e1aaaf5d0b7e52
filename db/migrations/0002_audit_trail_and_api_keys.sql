-- 21 CFR Part 11 §11.10(e) audit trail (issue 8, src/audit/, docs/security.md).
-- Append-only and hash-chained: each row's hash is sha256(prev_hash || canonical row), computed here
-- in the database under a row lock on audit_head, so every replica appends to the one chain and seq
-- is gap-free. UPDATE, DELETE and TRUNCATE are refused by trigger and by privileges. `aepred audit
-- verify` recomputes every hash outside the database (it does not trust audit_canonical below).
CREATE TABLE audit_log (
  seq            bigint PRIMARY KEY,
  at             timestamptz NOT NULL,
  actor          text NOT NULL CHECK (actor !~ '[\x01-\x1f]'),
  action         text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]*$'),
  subject        text NOT NULL DEFAULT '' CHECK (subject !~ '[\x01-\x1f]'),
  model_version  text NOT NULL DEFAULT '' CHECK (model_version !~ '[\x01-\x1f]'),
  input_hash     text NOT NULL DEFAULT '' CHECK (input_hash !~ '[\x01-\x1f]'),
  correlation_id text NOT NULL DEFAULT '' CHECK (correlation_id !~ '[\x01-\x1f]'),
  -- Canonical JSON written by the service (sorted keys); text, not jsonb, so its bytes are hashed as
  -- written. The cast checks it is JSON, which also rules out raw control characters.
  payload        text NOT NULL CHECK (payload::jsonb IS NOT NULL),
  prev_hash      bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash           bytea NOT NULL UNIQUE CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_subject ON audit_log (action, subject);

-- The chain head: one row, moved only by audit_chain(). A digest of it is also written outside the
-- database so that a truncated tail (head rewound by a superuser) is detectable.
CREATE TABLE audit_head (
  id   boolean PRIMARY KEY DEFAULT true CHECK (id),
  seq  bigint NOT NULL,
  hash bytea NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, decode(repeat('00', 32), 'hex'));

-- Fields joined by the unit separator (0x1f), which no field may contain; time as epoch milliseconds.
CREATE FUNCTION audit_canonical(r audit_log) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws(E'\x1f', r.seq::text, (extract(epoch FROM r.at) * 1000)::bigint::text, r.actor,
                   r.action, r.subject, r.model_version, r.input_hash, r.correlation_id, r.payload)
$$;

CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head audit_head%ROWTYPE;
BEGIN
  SELECT * INTO head FROM audit_head WHERE id FOR UPDATE;
  NEW.seq := head.seq + 1;
  -- The database's clock, to the millisecond: callers cannot back-date a row.
  NEW.at := date_trunc('milliseconds', clock_timestamp());
  NEW.prev_hash := head.hash;
  NEW.hash := sha256(head.hash || convert_to(audit_canonical(NEW), 'UTF8'));
  UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id;
  RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- audit_head may move only inside audit_chain() (trigger depth 2: the INSERT's trigger, then this).
  IF TG_TABLE_NAME = 'audit_head' AND TG_OP = 'UPDATE' AND pg_trigger_depth() > 1 THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_head_guard BEFORE UPDATE OR DELETE ON audit_head
  FOR EACH ROW EXECUTE FUNCTION audit_refuse();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();

-- Privileges as well as triggers: the service's role (the owner) keeps INSERT and SELECT only.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC, CURRENT_USER;
REVOKE DELETE, TRUNCATE ON audit_head FROM PUBLIC, CURRENT_USER;

-- API keys (docs/security.md): only a SHA-256 of the secret is stored; keys are 256-bit random, so a
-- fast hash is enough (no password stretching needed). Revocation is a timestamp, never a DELETE, so
-- audit rows keep pointing at a key that existed.
CREATE TABLE api_keys (
  key_id      text PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{8,32}$'),
  name        text NOT NULL,
  role        text NOT NULL CHECK (role IN ('reader', 'coordinator', 'operator', 'admin')),
  secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
