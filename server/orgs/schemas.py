"""Wire types of the organisation structure."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class TeamOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    manager_id: uuid.UUID | None
    region_id: uuid.UUID | None
    #: Current members (memberships with no end date), sorted.
    member_ids: list[uuid.UUID]
    version: int
    updated_at: datetime


def team_out(row: dict, member_ids: list[uuid.UUID]) -> TeamOut:
    return TeamOut(id=row["id"], name=row["name"], manager_id=row["manager_id"],
                   region_id=row["region_id"], member_ids=member_ids, version=row["version"],
                   updated_at=row["updated_at"])
