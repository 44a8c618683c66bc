"""Run each job window once, whatever the number of scheduler processes.

APScheduler 3.x keeps its schedule in each process, so every scheduler fires
every window. The first to insert the ``job_runs`` row for (job, window)
runs it; the others find the row and skip. A run that failed is taken over by
the next firing (another process, or this one on retry) while attempts
remain; a run whose process died is taken over once its lease has passed.
Each takeover is one conditional ``UPDATE``, so two processes cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server.common.time import utcnow
from server.db.direct import execute, fetch
from server.db.ids import new_id
from server.jobs.registry import JobSpec, Window

INSERT = ("INSERT INTO job_runs (id, job, window_start, window_end, state, attempts, claimed_by, lease_until, "
          "started_at) VALUES (?, ?, ?, ?, 'running', 1, ?, ?, ?) ON CONFLICT (job, window_start) DO NOTHING "
          "RETURNING attempts")
TAKE_OVER = ("UPDATE job_runs SET state = 'running', attempts = attempts + 1, claimed_by = ?, lease_until = ?, "
             "started_at = ?, finished_at = NULL WHERE job = ? AND window_start = ? AND attempts < ? "
             "AND (state = 'failed' OR (state = 'running' AND lease_until < ?)) RETURNING attempts")


async def claim(spec: JobSpec, window: Window, worker: str, now: datetime | None = None) -> int | None:
    """The attempt number if this process runs ``window`` now, else None (done, running elsewhere, given up)."""
    now = now or utcnow()
    lease = now + timedelta(seconds=spec.timeout_s + 60)
    rows = await fetch(INSERT, [new_id(), spec.name, window.start, window.end, worker[:64], lease, now])
    if rows:
        return int(rows[0][0])
    rows = await fetch(TAKE_OVER, [worker[:64], lease, now, spec.name, window.start, spec.attempts, now])
    return int(rows[0][0]) if rows else None


async def finish(spec: JobSpec, window: Window, worker: str, *, summary: str | None = None,
                 error: str | None = None) -> None:
    """Record the outcome; only the claimant's row (a run taken over from it records nothing)."""
    await execute("UPDATE job_runs SET state = ?, finished_at = ?, summary = ?, error = ? "
                  "WHERE job = ? AND window_start = ? AND claimed_by = ? AND state = 'running'",
                  ["failed" if error else "done", utcnow(), (summary or "")[:300] or None, error,
                   spec.name, window.start, worker[:64]])


async def last_runs() -> dict[str, dict]:
    """Each job's latest window: state, attempts, times, summary or error (``fieldsales jobs list``)."""
    rows = await fetch(
        "SELECT r.job, r.window_start, r.state, r.attempts, r.started_at, r.finished_at, r.summary, r.error "
        "FROM job_runs r JOIN (SELECT job, max(window_start) AS latest FROM job_runs GROUP BY job) m "
        "ON m.job = r.job AND m.latest = r.window_start")
    keys = ("job", "window_start", "state", "attempts", "started_at", "finished_at", "summary", "error")
    return {r[0]: dict(zip(keys, r, strict=True)) for r in rows}
