"""Commit-ordered versions (SYNC.md guarantee 1).

Each write takes the next value of its organisation's counter row. The row
stays locked until the transaction ends (PostgreSQL row lock; on SQLite the
whole database is locked by ``BEGIN IMMEDIATE``), so a transaction holding
version *n* commits before any other transaction can take *n + 1*: a puller
that has seen *n + 1* can never later find *n* appear behind its cursor.
Call it inside ``unit_of_work()`` and as late in the transaction as possible.
"""

from __future__ import annotations

import uuid

from server.orgs.tables import OrgClock


async def next_version(org_id: uuid.UUID) -> int:
    rows = await OrgClock.raw(
        "UPDATE org_clocks SET version = version + 1 WHERE id = {} RETURNING version",
        org_id,
    )
    if not rows:
        raise LookupError(f"no clock for organisation {org_id}")
    return int(rows[0]["version"])


async def current_version(org_id: uuid.UUID) -> int:
    row = await OrgClock.select(OrgClock.version).where(OrgClock.id == org_id).first()
    return int(row["version"]) if row else 0


async def next_versions(org_id: uuid.UUID, count: int) -> range:
    """``count`` consecutive versions in one step (bulk writes); same locking as :func:`next_version`."""
    rows = await OrgClock.raw(
        "UPDATE org_clocks SET version = version + {} WHERE id = {} RETURNING version",
        count, org_id,
    )
    if not rows:
        raise LookupError(f"no clock for organisation {org_id}")
    last = int(rows[0]["version"])
    return range(last - count + 1, last + 1)
