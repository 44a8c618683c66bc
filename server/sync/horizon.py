"""The tombstone horizon (SYNC.md guarantee 6): what the change log forgets, and who must re-pull.

Each organisation keeps tombstones, move records and push results for
``organisations.tombstone_days``. Purging older ones raises the org's
``purged_version``: a device whose cursor is below it may have missed a delete
or a move, so its next pull answers 410 ``cursor_expired`` and it does a full
(replacement) pull, keeping its unpushed changes. Deletes are never missed
silently.

Tombstoned rows that other rows may still point at (accounts, contacts, leads,
opportunities) stay as rows; only their *change-log* guarantee expires. Leaf
rows (activities, tasks, appointments) are deleted for good.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from server.common.time import utcnow
from server.comms.tables import Activity
from server.db.clock import current_version
from server.orgs.tables import Organisation, OrgClock
from server.sync.tables import SyncMove, SyncMutation
from server.work.tables import Appointment, Task

LEAF_TABLES = (Activity, Task, Appointment)


async def purge(org_id: uuid.UUID, now: datetime | None = None) -> int:
    """Forget what is older than the org's horizon; returns the new ``purged_version``.

    Call inside ``unit_of_work()``. The bound is the org's version at the
    horizon: the highest version stamped on anything that changed before it.
    """
    org = await Organisation.select(Organisation.tombstone_days).where(Organisation.id == org_id).first()
    if org is None:
        raise LookupError(f"no organisation {org_id}")
    before = (now or utcnow()) - timedelta(days=int(org["tombstone_days"]))
    bound = 0
    for table in LEAF_TABLES:
        gone = await table.delete().where(
            (table.org_id == org_id) & (table.deleted_at < before)  # type: ignore[attr-defined]
        ).returning(table.version)  # type: ignore[attr-defined]
        bound = max([bound, *(r["version"] for r in gone)])
    moves = await SyncMove.delete().where((SyncMove.org_id == org_id) & (SyncMove.created_at < before)).returning(
        SyncMove.version
    )
    bound = max([bound, *(r["version"] for r in moves)])
    await SyncMutation.delete().where((SyncMutation.org_id == org_id) & (SyncMutation.created_at < before))
    if bound:
        bound = min(bound, await current_version(org_id))
        await OrgClock.update({OrgClock.purged_version: bound}).where(
            (OrgClock.id == org_id) & (OrgClock.purged_version < bound)
        )
    row = await OrgClock.select(OrgClock.purged_version).where(OrgClock.id == org_id).first()
    return int(row["purged_version"]) if row else 0
