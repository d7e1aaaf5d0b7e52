-- FR-2.2: the trial enrollment table. One row per patient; patient_id is unique across trials
-- (simulator ids carry the trial, CDISC USUBJID is study-unique, PhysioNet ids are prefixed).
-- Mirrors contracts/enrollment.schema.json; the ingester looks patients up here (unknown_patient).
CREATE TABLE enrollment (
  patient_id      text PRIMARY KEY CHECK (patient_id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
  trial_id        text NOT NULL,
  site_id         text NOT NULL,
  arm             text,
  arm_role        text CHECK (arm_role IN ('treatment', 'control', 'screen_failure', 'other')),
  enrollment_date date NOT NULL,
  age             real NOT NULL CHECK (age >= 0 AND age <= 130),
  sex             text NOT NULL CHECK (sex IN ('M', 'F', 'U')),
  height_cm       real CHECK (height_cm BETWEEN 20 AND 280),
  weight_kg       real CHECK (weight_kg BETWEEN 0.2 AND 650),
  comorbidities   text[] NOT NULL DEFAULT '{}',
  source          text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX enrollment_trial_site ON enrollment (trial_id, site_id);
