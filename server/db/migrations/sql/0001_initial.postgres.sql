-- 0001 initial schema (postgres). Generated once from the Piccolo tables, then frozen;
-- later changes are new migrations.

CREATE TABLE "organisations" (
    "id" UUID PRIMARY KEY NOT NULL,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "slug" VARCHAR(80) UNIQUE NOT NULL DEFAULT '',
    "base_currency" VARCHAR(3) NOT NULL DEFAULT 'USD',
    "timezone" VARCHAR(64) NOT NULL DEFAULT 'UTC',
    "checkin_radius_m" INTEGER NOT NULL DEFAULT 100,
    "tombstone_days" INTEGER NOT NULL DEFAULT 90,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE "org_clocks" (
    "id" UUID PRIMARY KEY NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE "users" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "email" VARCHAR(254) NOT NULL DEFAULT '',
    "password_hash" VARCHAR(200) NOT NULL DEFAULT '',
    "full_name" VARCHAR(200) NOT NULL DEFAULT '',
    "role" VARCHAR(16) NOT NULL DEFAULT 'rep',
    "manager_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "timezone" VARCHAR(64) DEFAULT null,
    "phone_e164" VARCHAR(20) DEFAULT null,
    "home_lat" DOUBLE PRECISION DEFAULT null,
    "home_lng" DOUBLE PRECISION DEFAULT null,
    "home_cell" VARCHAR(16) DEFAULT null,
    "capacity_fte" REAL NOT NULL DEFAULT 1.0,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "last_login_at" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "regions" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "parent_id" UUID REFERENCES "regions" ("id") ON DELETE RESTRICT
);

CREATE TABLE "teams" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "manager_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "region_id" UUID REFERENCES "regions" ("id") ON DELETE RESTRICT
);

CREATE TABLE "team_memberships" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "team_id" UUID REFERENCES "teams" ("id") ON DELETE RESTRICT,
    "user_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "valid_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "valid_to" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "manager_links" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "user_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "manager_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "valid_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "valid_to" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "devices" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "user_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "name" VARCHAR(120) NOT NULL DEFAULT '',
    "platform" VARCHAR(20) DEFAULT null,
    "app_version" VARCHAR(40) DEFAULT null,
    "push_provider" VARCHAR(10) DEFAULT null,
    "push_token" VARCHAR(512) DEFAULT null,
    "last_mutation_id" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "last_seen_at" TIMESTAMPTZ DEFAULT null,
    "revoked_at" TIMESTAMPTZ DEFAULT null,
    "revoked_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT
);

CREATE TABLE "auth_sessions" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "user_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "device_id" UUID REFERENCES "devices" ("id") ON DELETE RESTRICT,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "last_used_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "revoked_at" TIMESTAMPTZ DEFAULT null,
    "revoke_reason" VARCHAR(40) DEFAULT null
);

CREATE TABLE "refresh_tokens" (
    "id" UUID PRIMARY KEY NOT NULL,
    "session_id" UUID REFERENCES "auth_sessions" ("id") ON DELETE RESTRICT,
    "token_hash" VARCHAR(64) UNIQUE NOT NULL DEFAULT '',
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "expires_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "used_at" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "territories" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "layer" VARCHAR(40) NOT NULL DEFAULT 'primary',
    "overlay" BOOLEAN NOT NULL DEFAULT false,
    "region_id" UUID REFERENCES "regions" ("id") ON DELETE RESTRICT,
    "parent_id" UUID REFERENCES "territories" ("id") ON DELETE RESTRICT,
    "cells" JSON NOT NULL DEFAULT '[]',
    "resolution" INTEGER NOT NULL DEFAULT 7,
    "effective_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "effective_to" TIMESTAMPTZ DEFAULT null,
    "geometry_version" INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE "accounts" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "owner_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "status" VARCHAR(16) NOT NULL DEFAULT 'prospect',
    "industry" VARCHAR(80) DEFAULT null,
    "phone_e164" VARCHAR(20) DEFAULT null,
    "email" VARCHAR(254) DEFAULT null,
    "website" VARCHAR(200) DEFAULT null,
    "address_line" VARCHAR(200) DEFAULT null,
    "city" VARCHAR(100) DEFAULT null,
    "state" VARCHAR(100) DEFAULT null,
    "postal_code" VARCHAR(20) DEFAULT null,
    "country" VARCHAR(2) DEFAULT null,
    "lat" DOUBLE PRECISION DEFAULT null,
    "lng" DOUBLE PRECISION DEFAULT null,
    "h3_cell" VARCHAR(16) DEFAULT null,
    "potential" NUMERIC(14, 2) DEFAULT null,
    "visit_every_days" INTEGER DEFAULT null,
    "visit_minutes" INTEGER NOT NULL DEFAULT 30,
    "merged_into_id" UUID DEFAULT null
);

CREATE TABLE "contacts" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "owner_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "first_name" VARCHAR(100) NOT NULL DEFAULT '',
    "last_name" VARCHAR(100) NOT NULL DEFAULT '',
    "title" VARCHAR(100) DEFAULT null,
    "email" VARCHAR(254) DEFAULT null,
    "phone_e164" VARCHAR(20) DEFAULT null,
    "mobile_e164" VARCHAR(20) DEFAULT null,
    "merged_into_id" UUID DEFAULT null
);

CREATE TABLE "opportunities" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "owner_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "lead_id" UUID DEFAULT null,
    "name" VARCHAR(200) NOT NULL DEFAULT '',
    "stage" VARCHAR(20) NOT NULL DEFAULT 'prospecting',
    "amount" NUMERIC(14, 2) NOT NULL DEFAULT 0,
    "currency" VARCHAR(3) NOT NULL DEFAULT 'USD',
    "probability" INTEGER NOT NULL DEFAULT 10,
    "expected_close_date" DATE DEFAULT null,
    "closed_at" TIMESTAMPTZ DEFAULT null,
    "close_reason" VARCHAR(200) DEFAULT null
);

CREATE TABLE "leads" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "owner_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "status" VARCHAR(16) NOT NULL DEFAULT 'new',
    "source" VARCHAR(20) NOT NULL DEFAULT 'other',
    "first_name" VARCHAR(100) NOT NULL DEFAULT '',
    "last_name" VARCHAR(100) NOT NULL DEFAULT '',
    "company" VARCHAR(200) NOT NULL DEFAULT '',
    "title" VARCHAR(100) DEFAULT null,
    "email" VARCHAR(254) DEFAULT null,
    "phone_e164" VARCHAR(20) DEFAULT null,
    "address_line" VARCHAR(200) DEFAULT null,
    "city" VARCHAR(100) DEFAULT null,
    "state" VARCHAR(100) DEFAULT null,
    "postal_code" VARCHAR(20) DEFAULT null,
    "lat" DOUBLE PRECISION DEFAULT null,
    "lng" DOUBLE PRECISION DEFAULT null,
    "h3_cell" VARCHAR(16) DEFAULT null,
    "territory_id" UUID REFERENCES "territories" ("id") ON DELETE RESTRICT,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contact_id" UUID REFERENCES "contacts" ("id") ON DELETE RESTRICT,
    "opportunity_id" UUID REFERENCES "opportunities" ("id") ON DELETE RESTRICT,
    "converted_at" TIMESTAMPTZ DEFAULT null,
    "disqualified_reason" VARCHAR(200) DEFAULT null,
    "merged_into_id" UUID DEFAULT null
);

CREATE TABLE "opportunity_stage_changes" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "opportunity_id" UUID REFERENCES "opportunities" ("id") ON DELETE RESTRICT,
    "from_stage" VARCHAR(20) DEFAULT null,
    "to_stage" VARCHAR(20) NOT NULL DEFAULT '',
    "amount" NUMERIC(14, 2) NOT NULL DEFAULT 0,
    "changed_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "changed_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE "activities" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "rep_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "type" VARCHAR(10) NOT NULL DEFAULT '',
    "direction" VARCHAR(3) NOT NULL DEFAULT 'out',
    "outcome" VARCHAR(20) DEFAULT null,
    "occurred_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "received_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "ended_at" TIMESTAMPTZ DEFAULT null,
    "duration_s" INTEGER DEFAULT null,
    "lat" DOUBLE PRECISION DEFAULT null,
    "lng" DOUBLE PRECISION DEFAULT null,
    "accuracy_m" DOUBLE PRECISION DEFAULT null,
    "mock_location" BOOLEAN NOT NULL DEFAULT false,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contact_id" UUID REFERENCES "contacts" ("id") ON DELETE RESTRICT,
    "lead_id" UUID REFERENCES "leads" ("id") ON DELETE RESTRICT,
    "opportunity_id" UUID REFERENCES "opportunities" ("id") ON DELETE RESTRICT,
    "subject" VARCHAR(300) DEFAULT null,
    "body" TEXT DEFAULT null,
    "counterpart" VARCHAR(254) DEFAULT null,
    "status" VARCHAR(12) DEFAULT null,
    "status_detail" VARCHAR(300) DEFAULT null,
    "provider_ref" VARCHAR(120) DEFAULT null,
    "verification" VARCHAR(14) DEFAULT null,
    "distance_m" DOUBLE PRECISION DEFAULT null
);

CREATE TABLE "tasks" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "assignee_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "created_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contact_id" UUID REFERENCES "contacts" ("id") ON DELETE RESTRICT,
    "lead_id" UUID REFERENCES "leads" ("id") ON DELETE RESTRICT,
    "opportunity_id" UUID REFERENCES "opportunities" ("id") ON DELETE RESTRICT,
    "title" VARCHAR(200) NOT NULL DEFAULT '',
    "notes" TEXT DEFAULT null,
    "due_at" TIMESTAMPTZ DEFAULT null,
    "status" VARCHAR(10) NOT NULL DEFAULT 'open',
    "completed_at" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "appointments" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "deleted_at" TIMESTAMPTZ DEFAULT null,
    "assignee_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "created_by_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "contact_id" UUID REFERENCES "contacts" ("id") ON DELETE RESTRICT,
    "lead_id" UUID REFERENCES "leads" ("id") ON DELETE RESTRICT,
    "opportunity_id" UUID REFERENCES "opportunities" ("id") ON DELETE RESTRICT,
    "title" VARCHAR(200) NOT NULL DEFAULT '',
    "starts_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "ends_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "location" VARCHAR(300) DEFAULT null,
    "lat" DOUBLE PRECISION DEFAULT null,
    "lng" DOUBLE PRECISION DEFAULT null,
    "status" VARCHAR(10) NOT NULL DEFAULT 'scheduled'
);

CREATE TABLE "territory_owners" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "territory_id" UUID REFERENCES "territories" ("id") ON DELETE RESTRICT,
    "user_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "role" VARCHAR(10) NOT NULL DEFAULT 'primary',
    "valid_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "valid_to" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "territory_accounts" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "territory_id" UUID REFERENCES "territories" ("id") ON DELETE RESTRICT,
    "account_id" UUID REFERENCES "accounts" ("id") ON DELETE RESTRICT,
    "valid_from" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "valid_to" TIMESTAMPTZ DEFAULT null
);

CREATE TABLE "audit_events" (
    "id" UUID PRIMARY KEY NOT NULL,
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "actor_id" UUID REFERENCES "users" ("id") ON DELETE RESTRICT,
    "action" VARCHAR(60) NOT NULL DEFAULT '',
    "entity" VARCHAR(40) NOT NULL DEFAULT '',
    "entity_id" UUID DEFAULT null,
    "at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    "detail" JSON NOT NULL DEFAULT '{}',
    "request_id" VARCHAR(64) DEFAULT null
);

-- Indexes. Every synced table is read by (org, version) for sync pulls.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_manager ON users (org_id, manager_id);
CREATE INDEX users_org_version ON users (org_id, version);
CREATE INDEX regions_org_version ON regions (org_id, version);
CREATE INDEX teams_org_version ON teams (org_id, version);
CREATE INDEX team_memberships_user ON team_memberships (user_id, valid_from);
CREATE INDEX team_memberships_team ON team_memberships (team_id, valid_from);
CREATE INDEX manager_links_user ON manager_links (user_id, valid_from);
CREATE INDEX manager_links_manager ON manager_links (manager_id, valid_from);
CREATE INDEX devices_user ON devices (user_id);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
CREATE INDEX accounts_org_version ON accounts (org_id, version);
CREATE INDEX accounts_org_name ON accounts (org_id, name, id);
CREATE INDEX accounts_owner_name ON accounts (owner_id, name, id);
CREATE INDEX accounts_org_cell ON accounts (org_id, h3_cell);
CREATE INDEX contacts_org_version ON contacts (org_id, version);
CREATE INDEX contacts_org_name ON contacts (org_id, last_name, first_name, id);
CREATE INDEX contacts_account ON contacts (account_id);
CREATE INDEX contacts_owner ON contacts (owner_id);
CREATE INDEX leads_org_version ON leads (org_id, version);
CREATE INDEX leads_owner_status ON leads (owner_id, status);
CREATE INDEX leads_org_cell ON leads (org_id, h3_cell);
CREATE INDEX leads_territory ON leads (territory_id, owner_id);
CREATE INDEX opportunities_org_version ON opportunities (org_id, version);
CREATE INDEX opportunities_owner_stage ON opportunities (owner_id, stage);
CREATE INDEX opportunities_account ON opportunities (account_id);
CREATE INDEX stage_changes_opportunity ON opportunity_stage_changes (opportunity_id, changed_at);
CREATE INDEX activities_org_version ON activities (org_id, version);
CREATE INDEX activities_rep_time ON activities (rep_id, occurred_at);
CREATE INDEX activities_account_time ON activities (account_id, occurred_at);
CREATE INDEX activities_contact_time ON activities (contact_id, occurred_at);
CREATE INDEX activities_lead_time ON activities (lead_id, occurred_at);
CREATE INDEX activities_opportunity_time ON activities (opportunity_id, occurred_at);
CREATE INDEX tasks_org_version ON tasks (org_id, version);
CREATE INDEX tasks_assignee ON tasks (assignee_id, status, due_at);
CREATE INDEX appointments_org_version ON appointments (org_id, version);
CREATE INDEX appointments_assignee ON appointments (assignee_id, starts_at);
CREATE INDEX territories_org_version ON territories (org_id, version);
CREATE INDEX territory_owners_user ON territory_owners (user_id, valid_to);
CREATE INDEX territory_owners_territory ON territory_owners (territory_id, valid_to);
CREATE INDEX territory_accounts_account ON territory_accounts (account_id, valid_to);
CREATE INDEX territory_accounts_territory ON territory_accounts (territory_id, valid_to);
CREATE INDEX audit_events_org_time ON audit_events (org_id, at);

-- Name search: trigram indexes serve ILIKE '%term%'.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_name_trgm ON accounts USING gin (name gin_trgm_ops);
CREATE INDEX contacts_name_trgm ON contacts USING gin ((first_name || ' ' || last_name) gin_trgm_ops);
CREATE INDEX leads_name_trgm ON leads USING gin ((first_name || ' ' || last_name || ' ' || company) gin_trgm_ops);
CREATE INDEX opportunities_name_trgm ON opportunities USING gin (name gin_trgm_ops);
