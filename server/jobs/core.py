"""The platform's own jobs: territory upkeep and the sync horizon. Each calls a service per org.

Feature jobs live beside their features (``server.metrics.jobs``,
``server.incentives.jobs``, ``server.notify.jobs``); ``server.jobs.catalog``
gathers them all.
"""

from __future__ import annotations

import uuid

from server.db.direct import fetch
from server.db.tx import unit_of_work
from server.jobs.registry import Window, job


async def org_ids(sql: str = "SELECT CAST(id AS TEXT) FROM organisations ORDER BY id", args=()) -> list[uuid.UUID]:
    """The organisations ``sql`` names (every one by default), each to be handled in its own transactions."""
    async with unit_of_work():
        return [uuid.UUID(r[0]) for r in await fetch(sql, list(args))]


@job("territories_place", every_s=900,
     description="re-place accounts of orgs whose territories took or ended effect in the window")
async def territories_place(window: Window) -> str:
    from server.geo.placement import place_accounts

    # Effective dates that passed since the window before this one (a missed window is caught up);
    # by hand: every org.
    since = window.start - (window.end - window.start)
    orgs = await org_ids() if window.manual else await org_ids(
        "SELECT DISTINCT CAST(org_id AS TEXT) FROM territories WHERE deleted_at IS NULL AND "
        "((effective_from > ? AND effective_from <= ?) OR (effective_to > ? AND effective_to <= ?))",
        (since, window.end, since, window.end))
    moved = 0
    for org_id in orgs:
        async with unit_of_work():
            moved += (await place_accounts(org_id)).moved_accounts
    return f"{len(orgs)} org(s) re-placed, {moved} account(s) moved"


@job("map_figures", every_s=3600, description="rebuild the offline maps' figures layer (accounts, potential, visits)")
async def map_figures(window: Window) -> str:
    from server.geo.mapkit import refresh_figures

    changed = 0
    for org_id in await org_ids():
        changed += await refresh_figures(org_id)
    return f"{changed} figure row(s) rewritten"


@job("sync_horizon", every_s=86400, description="purge tombstones and move records older than each org's horizon")
async def sync_horizon(window: Window) -> str:
    from server.sync.horizon import purge

    orgs = await org_ids()
    for org_id in orgs:
        async with unit_of_work():
            await purge(org_id, window.end)
    return f"{len(orgs)} org(s) purged"
