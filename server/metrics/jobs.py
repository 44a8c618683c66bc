"""The scheduled metrics rollup and the services behind it.

``metrics_rollup`` runs every minute (the scheduler runs each window once
across processes) and rolls up every organisation, each in its own
transactions, so one org's failure never holds back another's. It is driven by
time and by synced data (watermarks on ``version``), never by logins: a rep who
only works on the phone is rolled up like everyone else.
"""

from __future__ import annotations

import logging
import uuid

from server.jobs.core import org_ids
from server.jobs.registry import Window, job
from server.metrics.rollup import RollupResult, roll_up_org

log = logging.getLogger("fieldsales.metrics")

__all__ = ["RollupResult", "metrics_rollup", "rebuild", "roll_up"]


async def roll_up(org_id: uuid.UUID) -> RollupResult:
    """Bring one organisation's daily metrics up to date (incremental, idempotent)."""
    return await roll_up_org(org_id)


async def rebuild(org_id: uuid.UUID) -> RollupResult:
    """Recompute one organisation's metrics from scratch (watermarks back to 0)."""
    return await roll_up_org(org_id, from_scratch=True)


@job("metrics_rollup", every_s=60,
     description="Roll activities, leads, opportunities and appointments changed since the last run "
                 "into daily metrics per rep (org-local days)")
async def metrics_rollup(window: Window) -> str:
    orgs = activities = cells = 0
    failed: list[uuid.UUID] = []
    for org_id in await org_ids():
        try:
            result = await roll_up(org_id)
        except Exception:  # one org's failure must not stop the others; the next window retries it
            log.exception("metrics rollup failed for org %s", org_id)
            failed.append(org_id)
            continue
        orgs += 1
        activities += result.activities
        cells += result.cells
    summary = f"{orgs:,} orgs, {activities:,} activities, {cells:,} cells"
    if failed:
        summary += f", {len(failed)} failed"
        if not orgs:
            raise RuntimeError(f"metrics rollup failed for every org: {summary}")
    return summary
