-- Bayline schema. Only trusted extensions: this runs as the database owner, not a superuser.
-- In public, so per-schema test databases never own (and drop) the extension.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;

CREATE TABLE dealership (
  id            smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  name          text NOT NULL,
  timezone      text NOT NULL,
  address       text NOT NULL,
  phone         text NOT NULL,
  -- {"mon":["07:00","18:00"],...,"sun":null}: opening hours per weekday, dealership local time.
  hours         jsonb NOT NULL,
  slot_minutes  integer NOT NULL DEFAULT 30 CHECK (slot_minutes BETWEEN 5 AND 240),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE service_types (
  code              text PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]{1,31}$'),
  name              text NOT NULL,
  duration_minutes  integer NOT NULL CHECK (duration_minutes > 0 AND duration_minutes <= 480),
  price_cents       integer NOT NULL CHECK (price_cents >= 0),
  active            boolean NOT NULL DEFAULT true
);

CREATE TABLE bays (
  id      serial PRIMARY KEY,
  name    text NOT NULL UNIQUE,
  active  boolean NOT NULL DEFAULT true
);

-- PII columns (*_enc) hold AES-256-GCM ciphertexts that name their key version; pii_key_version
-- is the oldest version used on the row, so rotation can find what is left to re-encrypt.
CREATE TABLE customers (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name_enc         text,
  email_enc        text,
  phone_enc        text NOT NULL,
  phone_index      text NOT NULL UNIQUE,
  pii_key_version  integer NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_pii_key_version ON customers (pii_key_version);

CREATE TABLE vehicles (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  year         integer NOT NULL CHECK (year BETWEEN 1900 AND 2100),
  make         text NOT NULL,
  model        text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vehicles_customer ON vehicles (customer_id);

CREATE TABLE appointments (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id      uuid NOT NULL REFERENCES customers (id),
  vehicle_id       uuid REFERENCES vehicles (id),
  service_code     text NOT NULL REFERENCES service_types (code),
  bay_id           integer NOT NULL REFERENCES bays (id),
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL,
  status           text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'completed', 'no_show')),
  source           text NOT NULL CHECK (source IN ('phone', 'staff')),
  call_sid         text,
  notes_enc        text,
  -- A tool call repeated with the same arguments in one call books once.
  idempotency_key  text UNIQUE,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  -- The database itself refuses two live bookings of one bay at overlapping times.
  CONSTRAINT appointments_no_overlap EXCLUDE USING gist (bay_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status = 'booked')
);
CREATE INDEX appointments_starts_at ON appointments (starts_at);
CREATE INDEX appointments_customer ON appointments (customer_id, starts_at);

CREATE TABLE calls (
  call_sid      text PRIMARY KEY,
  stream_sid    text,
  from_index    text,
  from_enc      text,
  from_masked   text,
  customer_id   uuid REFERENCES customers (id),
  status        text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'completed')),
  outcome       text CHECK (outcome IN ('booked', 'rescheduled', 'cancelled', 'info', 'transferred', 'message', 'abandoned', 'failed')),
  started_at    timestamptz NOT NULL DEFAULT now(),
  ended_at      timestamptz,
  latency       jsonb NOT NULL DEFAULT '[]'::jsonb,
  pii_key_version integer
);
CREATE INDEX calls_started_at ON calls (started_at);

CREATE TABLE call_turns (
  call_sid     text NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
  seq          integer NOT NULL,
  role         text NOT NULL CHECK (role IN ('caller', 'agent')),
  text_enc     text NOT NULL,
  at           timestamptz NOT NULL,
  interrupted  boolean NOT NULL DEFAULT false,
  pii_key_version integer NOT NULL,
  PRIMARY KEY (call_sid, seq)
);

CREATE TABLE staff_users (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email                 text NOT NULL UNIQUE CHECK (email = lower(email)),
  password_hash         text NOT NULL,
  role                  text NOT NULL CHECK (role IN ('staff', 'admin')),
  must_change_password  boolean NOT NULL DEFAULT true,
  failed_logins         integer NOT NULL DEFAULT 0,
  locked_until          timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  disabled_at           timestamptz
);

CREATE TABLE api_keys (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL,
  prefix        text NOT NULL,
  key_sha256    bytea NOT NULL UNIQUE,
  role          text NOT NULL CHECK (role IN ('staff', 'admin')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

CREATE TABLE audit_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_type   text NOT NULL CHECK (actor_type IN ('staff', 'api_key', 'system', 'caller')),
  actor_id     text,
  action       text NOT NULL,
  target_type  text,
  target_id    text,
  ip           text,
  details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only: the audit log cannot be edited or erased through SQL.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
