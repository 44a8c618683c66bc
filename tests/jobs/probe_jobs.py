"""Jobs for the scheduler tests, loaded with FIELDSALES_JOB_MODULES=tests.jobs.probe_jobs.

``probe`` writes one row per run into ``job_probe`` (created by the test), so a
window run twice shows up as two rows.
"""

from __future__ import annotations

import os

from server.db.direct import execute
from server.db.tx import unit_of_work
from server.jobs.registry import Window, job


@job("probe", every_s=1, description="test probe: one row per run", timeout_s=5)
async def probe(window: Window) -> str:
    async with unit_of_work():
        await execute("INSERT INTO job_probe (window_start, pid) VALUES (?, ?)",
                      [window.start.isoformat(), os.getpid()])
    return f"probe {window.start.isoformat()}"
