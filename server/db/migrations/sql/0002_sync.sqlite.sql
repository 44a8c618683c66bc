-- 0002 sync (sqlite): change-log support for the sync protocol (SYNC.md).

-- When tombstones were last purged: cursors below this version get 410.
ALTER TABLE org_clocks ADD COLUMN purged_version INTEGER NOT NULL DEFAULT 0;

-- The scope keys of the device's last WatermelonDB-style pull (it sends no cursor of ours).
ALTER TABLE devices ADD COLUMN sync_scope VARCHAR(64) DEFAULT null;

-- Per column, the version that last changed it: field-level conflict detection.
ALTER TABLE users ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE regions ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE teams ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE territories ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE opportunities ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE leads ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE activities ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tasks ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE appointments ADD COLUMN field_versions TEXT NOT NULL DEFAULT '{}';

-- Results of applied push mutations, so a retried batch gets the same answers.
CREATE TABLE "sync_mutations" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "org_id" UUID NOT NULL,
    "device_id" UUID NOT NULL REFERENCES "devices" ("id") ON DELETE CASCADE,
    "mutation_id" INTEGER NOT NULL,
    "result" TEXT NOT NULL,
    -- The row it wrote and the version it got: the device's next pull skips it (no echo).
    "table_name" VARCHAR(40) DEFAULT null,
    "row_id" UUID DEFAULT null,
    "version" INTEGER DEFAULT null,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
CREATE UNIQUE INDEX sync_mutations_device ON sync_mutations (device_id, mutation_id);
CREATE INDEX sync_mutations_created ON sync_mutations (created_at);
CREATE INDEX sync_mutations_device_version ON sync_mutations (device_id, version);

-- Rows whose holders (the users whose scope covered them) changed: pulls turn
-- these into "removed" for devices that may hold them and no longer see them.
CREATE TABLE "sync_moves" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT,
    "org_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "table_name" VARCHAR(40) NOT NULL,
    "row_id" UUID NOT NULL,
    "holders" TEXT NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
CREATE INDEX sync_moves_org_table_version ON sync_moves (org_id, table_name, version);

-- The scope keys a cursor was issued under, by content hash.
CREATE TABLE "sync_scopes" (
    "id" VARCHAR(64) PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL,
    "keys" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
