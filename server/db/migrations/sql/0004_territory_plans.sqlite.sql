-- 0004 (sqlite): balancing plans kept for review, the figures layer of the offline territory maps,
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
    "request" TEXT NOT NULL DEFAULT '{}',
    "plan" TEXT NOT NULL DEFAULT '{}',
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
    "body" TEXT NOT NULL DEFAULT '{}'
);

-- Placements are derived data (rebuilt from territories and account cells by server.geo.placement) and
-- written 100,000 at a time: no foreign keys, whose per-row checks (row locks on PostgreSQL) cost more
-- than the insert. SQLite drops a foreign key only by rebuilding the table.
CREATE TABLE "territory_accounts_new" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL,
    "territory_id" UUID NOT NULL,
    "account_id" UUID NOT NULL,
    "valid_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "valid_to" TIMESTAMPTZ DEFAULT null
);
INSERT INTO territory_accounts_new (id, org_id, territory_id, account_id, valid_from, valid_to)
    SELECT id, org_id, territory_id, account_id, valid_from, valid_to FROM territory_accounts
    WHERE territory_id IS NOT NULL AND account_id IS NOT NULL;
DROP TABLE territory_accounts;
ALTER TABLE territory_accounts_new RENAME TO territory_accounts;
CREATE INDEX territory_accounts_account ON territory_accounts (account_id, valid_to);
CREATE INDEX territory_accounts_territory ON territory_accounts (territory_id, valid_to);
CREATE INDEX territories_org_layer ON territories (org_id, layer);

-- Nearby accounts and placement read live accounts by cell: the candidates' position, owner and id
-- straight from the index, without visiting the table (then only the page's rows are read whole).
-- deleted_at is listed although always null: SQLite counts the index as covering only then.
DROP INDEX accounts_org_cell;
CREATE INDEX accounts_org_cell_live ON accounts (org_id, h3_cell, lat, lng, owner_id, id, deleted_at)
    WHERE deleted_at IS NULL;
