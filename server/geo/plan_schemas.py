"""Wire types of balancing: the request, the stored plan as returned, and what applying did."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from server.geo.schemas import Area, Layer

Tolerance = Annotated[float, msgspec.Meta(gt=0, le=1)]


class RegionIn(Area, forbid_unknown_fields=True, kw_only=True):
    """The area to balance: cells, a polygon or ZIPs (see Area), or every located account in scope."""

    all_accounts: bool = False


class BalanceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    layer: Layer = "primary"
    region: RegionIn = msgspec.field(default_factory=lambda: RegionIn(all_accounts=True))
    #: The plan's region (managers plan only regions their teams cover); new territories get it.
    region_id: uuid.UUID | None = None
    #: How many territories; defaults to one per rep in ``rep_ids``.
    territories: Annotated[int, msgspec.Meta(ge=1, le=500)] | None = None
    #: Reps to cover, assigned by minimum total travel from their homes.
    rep_ids: Annotated[list[uuid.UUID], msgspec.Meta(max_length=500)] = []
    #: ``visits``: hours a year from each account's visit target and length; ``accounts``: one per account.
    workload: Literal["visits", "accounts"] = "visits"
    #: ``account_field``: each account's potential; ``open_opportunities``: the sum of its open deals.
    potential: Literal["account_field", "open_opportunities"] = "account_field"
    workload_tolerance: Tolerance = 0.05
    potential_tolerance: Tolerance = 0.10
    #: Cells that stay with the territory they are in now.
    locked_cells: Annotated[list[str], msgspec.Meta(max_length=10_000)] = []
    #: Largest share of the accounts that may change territory (0..1).
    disruption_budget: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    #: Longest stretch of empty land a territory may cross, in km.
    gap_cap_km: Annotated[float, msgspec.Meta(ge=1, le=2_000)] = 50.0
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    #: Seeded starts, each polished; the best is kept.
    starts: Annotated[int, msgspec.Meta(ge=1, le=16)] = 4


class PlanOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    status: str
    layer: str
    region_id: uuid.UUID | None
    created_at: datetime
    applied_at: datetime | None
    seed: int
    request: dict[str, Any]
    #: Per territory: compacted cells, workload, potential, rep, the current territory it continues...
    territories: list[dict[str, Any]]
    #: Quality report: deviations, contiguity, compactness, gaps, travel, accounts moved, lumps, exceptions.
    report: dict[str, Any]
    #: Where to look at it before applying.
    svg: str


class ApplyResult(msgspec.Struct, kw_only=True):
    plan_id: uuid.UUID
    created: list[uuid.UUID]
    updated: list[uuid.UUID]
    deleted: list[uuid.UUID]
    placements_opened: int
    placements_closed: int
    #: Accounts whose holders (the reps whose phones carry them) changed.
    accounts_moved: int


def plan_out(row: dict) -> PlanOut:
    plan = row["plan"]
    return PlanOut(id=row["id"], name=row["name"], status=row["status"], layer=row["layer"],
                   region_id=row["region_id"], created_at=row["created_at"], applied_at=row["applied_at"],
                   seed=row["seed"], request=row["request"], territories=plan["territories"],
                   report=plan["report"], svg=f"/api/v1/territories/plans/{row['id']}/map.svg")
