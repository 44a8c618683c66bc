-- 0004 (postgres): balancing plans kept for review, and the figures layer of the offline territory maps.

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

CREATE INDEX territory_accounts_org_open ON territory_accounts (org_id, valid_to, account_id);
CREATE INDEX territories_org_layer ON territories (org_id, layer);
