-- 0010 (sqlite): scheduled job runs. One row per job and window: whoever inserts it runs the window,
-- so a window runs once however many scheduler processes there are; a failed or abandoned run is taken
-- over (attempts counted) until the job's attempts are used up.

CREATE TABLE "job_runs" (
    "id" UUID PRIMARY KEY NOT NULL,
    "job" VARCHAR(60) NOT NULL,
    "window_start" TIMESTAMPTZ NOT NULL,
    "window_end" TIMESTAMPTZ NOT NULL,
    "state" VARCHAR(10) NOT NULL DEFAULT 'running',
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "claimed_by" VARCHAR(64) NOT NULL,
    "lease_until" TIMESTAMPTZ NOT NULL,
    "started_at" TIMESTAMPTZ NOT NULL,
    "finished_at" TIMESTAMPTZ DEFAULT null,
    "summary" VARCHAR(300) DEFAULT null,
    "error" TEXT DEFAULT null
);
CREATE UNIQUE INDEX job_runs_window ON job_runs (job, window_start);
CREATE INDEX job_runs_started ON job_runs (job, started_at);
