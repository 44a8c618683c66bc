-- 0007 (postgres): metrics. Daily measures per rep (counts and sums only, so every roll-up is exact;
-- ratios are derived at query time) keyed by the day in the organisation's time zone, and the
-- rollup's watermark per source table. Written only by server.metrics.rollup.

CREATE TABLE "rep_day_metrics" (
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "rep_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "visits" BIGINT NOT NULL DEFAULT 0,
    "visits_verified" BIGINT NOT NULL DEFAULT 0,
    "calls" BIGINT NOT NULL DEFAULT 0,
    "calls_connected" BIGINT NOT NULL DEFAULT 0,
    "calls_verified" BIGINT NOT NULL DEFAULT 0,
    "texts" BIGINT NOT NULL DEFAULT 0,
    "emails" BIGINT NOT NULL DEFAULT 0,
    "meetings" BIGINT NOT NULL DEFAULT 0,
    "appointments_set" BIGINT NOT NULL DEFAULT 0,
    "leads_created" BIGINT NOT NULL DEFAULT 0,
    "leads_converted" BIGINT NOT NULL DEFAULT 0,
    "opps_created" BIGINT NOT NULL DEFAULT 0,
    "opps_won" BIGINT NOT NULL DEFAULT 0,
    "opps_lost" BIGINT NOT NULL DEFAULT 0,
    "dwell_n" BIGINT NOT NULL DEFAULT 0,
    "travel_n" BIGINT NOT NULL DEFAULT 0,
    "opps_won_cents" BIGINT NOT NULL DEFAULT 0,
    "opps_lost_cents" BIGINT NOT NULL DEFAULT 0,
    "dwell_s" BIGINT NOT NULL DEFAULT 0,
    "travel_s" BIGINT NOT NULL DEFAULT 0,
    "connected_call_s" BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY ("org_id", "rep_id", "day")
);
-- Team and org roll-ups read a date range for many reps.
CREATE INDEX rep_day_metrics_org_day ON rep_day_metrics (org_id, day);

CREATE TABLE "metric_watermarks" (
    "org_id" UUID NOT NULL REFERENCES "organisations" ("id") ON DELETE RESTRICT,
    "source" VARCHAR(20) NOT NULL,
    "last_version" BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY ("org_id", "source")
);
