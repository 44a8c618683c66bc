"""Scheduled housekeeping of the push outbox."""

from __future__ import annotations

from datetime import timedelta

from server.db.direct import execute, fetch
from server.db.tx import unit_of_work
from server.jobs.registry import Window, job

#: Finished pushes are kept this long (support questions: "did my phone get it?").
KEEP = timedelta(days=7)
#: Rows deleted per transaction, so SQLite's write lock is never held for long.
CHUNK = 2_000
EXPIRED = "expired: not sent within 7 days"


@job("push_cleanup", every_s=3600, description="Delete sent and failed pushes older than 7 days")
async def push_cleanup(window: Window) -> str | None:
    """Delete done/failed pushes finished 7 days before the window's end, a chunk per commit.

    Pushes still pending after 7 days (a provider this deployment never
    configured, e.g. raw APNs tokens) are failed as expired first: news that
    old is noise on a phone, and they would otherwise stay forever.
    """
    cutoff = window.end - KEEP
    async with unit_of_work():
        await execute("UPDATE push_outbox SET state = 'failed', last_error = ?, finished_at = ?, lease_until = NULL "
                      "WHERE state = 'pending' AND due_at < ?", [EXPIRED, window.end, cutoff])
    total = 0
    while True:
        async with unit_of_work():
            rows = await fetch(
                "DELETE FROM push_outbox WHERE id IN (SELECT id FROM push_outbox "
                "WHERE state <> 'pending' AND finished_at < ? LIMIT ?) RETURNING id", [cutoff, CHUNK])
        total += len(rows)
        if len(rows) < CHUNK:
            return f"deleted {total} old pushes"
