-- 0003 (postgres): message templates, contests, participants and leaderboard entries (all synced).

CREATE TABLE "message_templates" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "field_versions" TEXT NOT NULL DEFAULT '{}',
    "name" VARCHAR(120) NOT NULL DEFAULT '',
    "channel" VARCHAR(10) NOT NULL DEFAULT '',
    "subject" VARCHAR(200) DEFAULT null,
    "body" TEXT NOT NULL DEFAULT '',
    "active" BOOLEAN NOT NULL DEFAULT true,
    "created_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE INDEX message_templates_org_version ON message_templates (org_id, version);

CREATE TABLE "contests" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "field_versions" TEXT NOT NULL DEFAULT '{}',
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "description" TEXT NOT NULL DEFAULT '',
    "status" VARCHAR(12) NOT NULL DEFAULT 'draft',
    "starts_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "ends_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "created_by_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "visibility" VARCHAR(8) NOT NULL DEFAULT 'all',
    "rules" JSON NOT NULL DEFAULT '{}'
);
CREATE INDEX contests_org_version ON contests (org_id, version);

CREATE TABLE "contest_participants" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "contest_id" UUID NOT NULL REFERENCES "contests" ("id") ON DELETE CASCADE,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT
);
CREATE UNIQUE INDEX contest_participants_pair ON contest_participants (contest_id, user_id);
CREATE INDEX contest_participants_user ON contest_participants (user_id);

CREATE TABLE "leaderboard_entries" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "field_versions" TEXT NOT NULL DEFAULT '{}',
    "contest_id" UUID NOT NULL REFERENCES "contests" ("id") ON DELETE RESTRICT,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "score" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "rank" INTEGER DEFAULT null,
    "detail" JSON NOT NULL DEFAULT '{}'
);
CREATE INDEX leaderboard_entries_org_version ON leaderboard_entries (org_id, version);
CREATE UNIQUE INDEX leaderboard_entries_pair ON leaderboard_entries (contest_id, user_id);
