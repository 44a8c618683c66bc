-- 0006 (postgres): sending and receiving. The outbox of messages and calls owed to providers, provider
-- events already taken in (replays store nothing), the admins' inbox of unmatched inbound messages,
-- the history of activity amendments, and each org's sending identities and call verification rule.

CREATE TABLE "comms_outbox" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "channel" VARCHAR(10) NOT NULL,
    "state" VARCHAR(10) NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "due_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "lease_until" TIMESTAMPTZ DEFAULT null,
    "claimed_by" VARCHAR(64) DEFAULT null,
    "message_key" VARCHAR(200) NOT NULL,
    "last_error" VARCHAR(300) DEFAULT null,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "finished_at" TIMESTAMPTZ DEFAULT null
);
-- Senders take due items in order; finished items leave the index.
CREATE INDEX comms_outbox_due ON comms_outbox (due_at) WHERE state = 'pending';

CREATE TABLE "webhook_receipts" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "provider" VARCHAR(20) NOT NULL,
    "ref" VARCHAR(200) NOT NULL,
    "event" VARCHAR(40) NOT NULL,
    "received_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
CREATE UNIQUE INDEX webhook_receipts_event ON webhook_receipts (org_id, provider, ref, event);

CREATE TABLE "comms_inbox" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "channel" VARCHAR(10) NOT NULL,
    "sender" VARCHAR(254) NOT NULL,
    "recipient" VARCHAR(254) DEFAULT null,
    "subject" VARCHAR(300) DEFAULT null,
    "body" TEXT DEFAULT null,
    "occurred_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "received_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "provider_ref" VARCHAR(200) DEFAULT null,
    "state" VARCHAR(10) NOT NULL DEFAULT 'open',
    "activity_id" UUID DEFAULT null,
    "resolved_by_id" UUID DEFAULT null REFERENCES "users" ("id") ON DELETE RESTRICT,
    "resolved_at" TIMESTAMPTZ DEFAULT null
);
CREATE INDEX comms_inbox_org_state ON comms_inbox (org_id, state, received_at);

CREATE TABLE "activity_amendments" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "activity_id" UUID NOT NULL,
    "amended_by_id" UUID NOT NULL REFERENCES "users" ("id") ON DELETE RESTRICT,
    "amended_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "version" BIGINT NOT NULL DEFAULT 0,
    "changes" JSON NOT NULL DEFAULT '{}'
);
CREATE INDEX activity_amendments_activity ON activity_amendments (activity_id, amended_at);

ALTER TABLE organisations ADD COLUMN "call_verify_min_s" INTEGER NOT NULL DEFAULT 20;
ALTER TABLE organisations ADD COLUMN "sms_from" VARCHAR(20) DEFAULT null;
ALTER TABLE organisations ADD COLUMN "email_from" VARCHAR(254) DEFAULT null;

-- Provider callbacks find their activity by the provider's id; inbound messages find the
-- conversation they answer, and the contact or account by number or address.
CREATE INDEX activities_org_provider_ref ON activities (org_id, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX activities_org_counterpart ON activities (org_id, counterpart, occurred_at) WHERE counterpart IS NOT NULL;
CREATE INDEX contacts_org_phone ON contacts (org_id, phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE INDEX contacts_org_email ON contacts (org_id, email) WHERE email IS NOT NULL;
CREATE INDEX accounts_org_phone ON accounts (org_id, phone_e164) WHERE phone_e164 IS NOT NULL;
CREATE INDEX accounts_org_email ON accounts (org_id, email) WHERE email IS NOT NULL;
