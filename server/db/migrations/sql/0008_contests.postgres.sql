-- 0008 (postgres): contest lifecycle. Statuses renamed (published -> scheduled, final -> finished);
-- the org's grace period after a contest's window; frozen results; adjustments after the freeze.

ALTER TABLE "organisations" ADD COLUMN "contest_grace_hours" INTEGER NOT NULL DEFAULT 72;

UPDATE "contests" SET "status" = 'scheduled' WHERE "status" = 'published';
UPDATE "contests" SET "status" = 'finished' WHERE "status" = 'final';

CREATE INDEX contests_org_status ON contests (org_id, status);

CREATE TABLE "contest_results" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "contest_id" UUID NOT NULL REFERENCES "contests" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "score" DOUBLE PRECISION DEFAULT null,
    "rank" INTEGER DEFAULT null,
    "eligible" BOOLEAN NOT NULL DEFAULT false,
    "metric_values" JSON NOT NULL DEFAULT '{}',
    "prize" JSON NOT NULL DEFAULT '{}',
    "as_of_version" BIGINT NOT NULL DEFAULT 0,
    "frozen_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
CREATE UNIQUE INDEX contest_results_pair ON contest_results (contest_id, user_id);

CREATE TABLE "contest_adjustments" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "contest_id" UUID NOT NULL REFERENCES "contests" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "metric" VARCHAR(32) NOT NULL DEFAULT '',
    "delta" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "activity_ids" JSON NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
CREATE INDEX contest_adjustments_contest ON contest_adjustments (contest_id, user_id);

-- Per participant, what the window's queries last measured (scoring.Measured as JSON), and per
-- contest the org version it was measured at: a recompute re-measures only the participants with
-- activity (or pipeline records) written since, instead of scanning the whole window again.
CREATE TABLE "contest_tallies" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "contest_id" UUID NOT NULL REFERENCES "contests" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "measured" TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX contest_tallies_pair ON contest_tallies (contest_id, user_id);

CREATE TABLE "contest_progress" (
    "contest_id" UUID PRIMARY KEY NOT NULL REFERENCES "contests" ("id") ON DELETE CASCADE,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "as_of_version" BIGINT NOT NULL DEFAULT 0
);
