-- 0005 (postgres): verified check-ins. Every change of an account's location (check-ins are verified
-- against the location as it stood at the visit; a rep's move is flagged for the manager), and how far
-- ahead a device clock was when an activity's time had to be clamped.

CREATE TABLE "account_locations" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "account_id" UUID NOT NULL REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "lat" DOUBLE PRECISION DEFAULT null,
    "lng" DOUBLE PRECISION DEFAULT null,
    "h3_cell" VARCHAR(16) DEFAULT null,
    "previous_lat" DOUBLE PRECISION DEFAULT null,
    "previous_lng" DOUBLE PRECISION DEFAULT null,
    "moved_m" DOUBLE PRECISION DEFAULT null,
    "changed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "changed_by_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "changed_by_role" VARCHAR(10) NOT NULL DEFAULT '',
    "flagged" BOOLEAN NOT NULL DEFAULT false
);
-- Verification reads an account's changes after a visit; managers list the org's (flagged) ones.
CREATE INDEX account_locations_account_changed ON account_locations (account_id, changed_at);
CREATE INDEX account_locations_org_changed ON account_locations (org_id, changed_at);

ALTER TABLE activities ADD COLUMN "clock_offset_s" DOUBLE PRECISION DEFAULT null;
