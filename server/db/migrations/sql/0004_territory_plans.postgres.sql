-- 0004 (postgres): balancing plans kept for review, the figures layer of the offline territory maps,
-- and placements without foreign keys.

CREATE TABLE "territory_plans" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "status" VARCHAR(12) NOT NULL DEFAULT 'draft',
    "region_id" UUID REFERENCES "regions" ("id") ON DELETE RESTRICT,
    "layer" VARCHAR(40) NOT NULL DEFAULT 'primary',
    "created_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "based_on_version" BIGINT NOT NULL DEFAULT 0,
    "seed" INTEGER NOT NULL DEFAULT 0,
    "request" JSON NOT NULL DEFAULT '{}',
    "plan" JSON NOT NULL DEFAULT '{}',
    "applied_at" TIMESTAMPTZ DEFAULT null,
    "applied_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX territory_plans_org_created ON territory_plans (org_id, created_at);

CREATE TABLE "territory_figures" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "territory_id" UUID NOT NULL UNIQUE REFERENCES "territories" ("id") ON DELETE RESTRICT,
    "computed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "etag" VARCHAR(64) NOT NULL DEFAULT '',
    "body" JSON NOT NULL DEFAULT '{}'
);

-- Placements are derived data (rebuilt from territories and account cells by server.geo.placement) and
-- written 100,000 at a time: no foreign keys, whose per-row checks lock the parent rows.
DELETE FROM territory_accounts WHERE territory_id IS NULL OR account_id IS NULL;
ALTER TABLE territory_accounts
    DROP CONSTRAINT IF EXISTS territory_accounts_org_id_fkey,
    DROP CONSTRAINT IF EXISTS territory_accounts_territory_id_fkey,
    DROP CONSTRAINT IF EXISTS territory_accounts_account_id_fkey,
    ALTER COLUMN territory_id SET NOT NULL,
    ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX territories_org_layer ON territories (org_id, layer);

-- Nearby accounts and placement read live accounts by cell: the candidates' position, owner and id
-- straight from the index, without visiting the table (then only the page's rows are read whole).
-- deleted_at is listed although always null: SQLite counts the index as covering only then.
DROP INDEX accounts_org_cell;
CREATE INDEX accounts_org_cell_live ON accounts (org_id, h3_cell, lat, lng, owner_id, id, deleted_at)
    WHERE deleted_at IS NULL;
