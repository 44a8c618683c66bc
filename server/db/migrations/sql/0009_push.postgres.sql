-- 0009 (postgres): push notifications owed to phones. One row per device and notification, queued in the
-- transaction that caused it and sent after commit (server.notify.sender) under a lease, like comms_outbox.

CREATE TABLE "push_outbox" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "user_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "device_id" UUID NOT NULL REFERENCES "devices" ("id") ON DELETE RESTRICT,
    "provider" VARCHAR(10) NOT NULL,
    "token" VARCHAR(512) NOT NULL,
    "title" VARCHAR(200) NOT NULL,
    "body" TEXT NOT NULL,
    "data" JSON NOT NULL DEFAULT '{}',
    "collapse_key" VARCHAR(64) DEFAULT null,
    "state" VARCHAR(10) NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "due_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "lease_until" TIMESTAMPTZ DEFAULT null,
    "claimed_by" VARCHAR(64) DEFAULT null,
    "last_error" VARCHAR(300) DEFAULT null,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "finished_at" TIMESTAMPTZ DEFAULT null
);
-- Senders take due items in order; finished items leave the index.
CREATE INDEX push_outbox_due ON push_outbox (due_at) WHERE state = 'pending';
-- A dead token fails the other pushes still waiting for it.
CREATE INDEX push_outbox_device ON push_outbox (device_id) WHERE state = 'pending';
-- The cleanup job removes finished items by age.
CREATE INDEX push_outbox_finished ON push_outbox (finished_at) WHERE state <> 'pending';
