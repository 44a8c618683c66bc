from typing import Any

import msgspec
from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.db.columns import REGION, TERRITORY, USER, OrgRow, SyncedRow


def stored_cells(value: Any) -> list[str]:
    """``Territory.cells`` as a driver hands it back (JSON text on SQLite, decoded or text elsewhere)."""
    return list((msgspec.json.decode(value) if isinstance(value, (str, bytes)) else value) or ())


class Territory(SyncedRow, Table, tablename="territories"):
    """A set of H3 cells (stored compacted) owned by one rep, or several on an overlay layer."""

    name = Varchar(length=200)
    layer = Varchar(length=40, default="primary")
    #: Overlay layers may overlap other territories of the same layer.
    overlay = Boolean(default=False)
    region_id = ForeignKey(REGION, null=True)
    parent_id = ForeignKey(TERRITORY, null=True)
    cells = JSON(default="[]")
    resolution = Integer(default=7)
    effective_from = Timestamptz(default=TimestamptzNow())
    effective_to = Timestamptz(null=True, default=None)
    #: Bumped when the cells change: phones refetch the map package.
    geometry_version = Integer(default=1)


class TerritoryOwner(OrgRow, Table, tablename="territory_owners"):
    territory_id = ForeignKey(TERRITORY)
    user_id = ForeignKey(USER)
    role = Varchar(length=10, default="primary")  # primary | overlay
    valid_from = Timestamptz(default=TimestamptzNow())
    valid_to = Timestamptz(null=True, default=None)


class TerritoryAccount(Table, tablename="territory_accounts"):
    """An account's placement in a territory (derived by ``server.geo.placement``; no foreign keys:
    they cost more than the row when 100,000 accounts are placed at once)."""

    id = UUID(primary_key=True)
    org_id = UUID()
    territory_id = UUID()
    account_id = UUID()
    valid_from = Timestamptz(default=TimestamptzNow())
    valid_to = Timestamptz(null=True, default=None)


class TerritoryPlan(OrgRow, Table, tablename="territory_plans"):
    """A balancing result kept for review; applying it edits territories like a manual change."""

    name = Varchar(length=200, default="")
    status = Varchar(length=12, default="draft")  # draft | applied | stale
    region_id = ForeignKey(REGION, null=True)
    layer = Varchar(length=40, default="primary")
    created_by_id = ForeignKey(USER, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    #: The org's newest territory version when the plan was made: applying refuses if it moved on.
    based_on_version = BigInt(default=0)
    seed = Integer(default=0)
    request = JSON(default="{}")
    plan = JSON(default="{}")
    applied_at = Timestamptz(null=True, default=None)
    applied_by_id = ForeignKey(USER, null=True)


class TerritoryFigures(OrgRow, Table, tablename="territory_figures"):
    """The figures layer of a territory's offline map, rebuilt by a job (one row per territory)."""

    territory_id = ForeignKey(TERRITORY, unique=True)
    computed_at = Timestamptz(default=TimestamptzNow())
    etag = Varchar(length=64, default="")
    body = JSON(default="{}")
