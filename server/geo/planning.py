"""Balancing plans: gather the inputs from the data, run the balancer, keep the plan, apply it.

Workload and potential come from the data model: an account's yearly hours
are its visits a year (365 / ``visit_every_days``; one visit a quarter when no
target is set) times ``visit_minutes``; its potential is its ``potential``
field or the sum of its open opportunities. Reps bring their home location and
capacity. A plan is stored as a draft for review and applied by an admin or a
manager of its region through the same territory edits as a manual change,
in one transaction: any failure leaves every territory as it was.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import anyio.to_thread
import msgspec
from piccolo.query.functions.aggregate import Max

from server.access.scope import Scope
from server.accounts.tables import Account
from server.audit.log import audit
from server.common.errors import Conflict, Forbidden, Invalid, NotFound
from server.common.time import utcnow
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.balance import BalanceError, BalanceInput, Demand, Plan, Rep, balance
from server.geo.cells import cell_set, cell_to_latlng, is_valid_cell
from server.geo.checks import layer_overlaps
from server.geo.coverage import difference, hull_cells
from server.geo.placement import CellIndex, place_accounts
from server.geo.plan_schemas import ApplyResult, BalanceIn
from server.geo.schemas import TerritoryIn, TerritoryPatch
from server.geo.svg import render_svg
from server.geo.tables import Territory, TerritoryAccount, TerritoryPlan
from server.geo.territories import (
    area_cells,
    create_territory,
    delete_territory,
    manager_regions,
    update_territory,
)
from server.pipeline.schemas import Stage
from server.pipeline.tables import Opportunity
from server.users.tables import User

#: Visits a year assumed for an account with no visit target (one a quarter).
DEFAULT_VISIT_EVERY_DAYS = 91
CLOSED = ("closed_won", "closed_lost")
assert set(CLOSED) <= set(Stage.__args__)  # type: ignore[attr-defined]


def workload_hours(visit_every_days: int | None, visit_minutes: int | None) -> float:
    """Hours a year an account takes: visits a year times the visit's length."""
    every = visit_every_days or DEFAULT_VISIT_EVERY_DAYS
    return 365.0 / every * (visit_minutes or 30) / 60.0


async def _demands(scope: Scope, data: BalanceIn) -> list[Demand]:
    rows = await Account.select(Account.id, Account.h3_cell, Account.visit_every_days, Account.visit_minutes,
                                Account.potential).where(
        scope.accounts() & Account.deleted_at.is_null() & Account.h3_cell.is_not_null())
    open_amounts: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    if data.potential == "open_opportunities":
        for r in await Opportunity.select(Opportunity.account_id, Opportunity.amount).where(
                (Opportunity.org_id == scope.org_id) & Opportunity.deleted_at.is_null()
                & Opportunity.stage.not_in(list(CLOSED))):
            open_amounts[r["account_id"]] += Decimal(str(r["amount"] or 0))
    out = []
    for r in rows:
        hours = 1.0 if data.workload == "accounts" else workload_hours(r["visit_every_days"], r["visit_minutes"])
        potential = float(open_amounts.get(r["id"], 0)) if data.potential == "open_opportunities" \
            else float(r["potential"] or 0)
        out.append(Demand(str(r["id"]), r["h3_cell"], hours, potential))
    return sorted(out, key=lambda d: d.id)


async def _reps(scope: Scope, rep_ids: list[uuid.UUID]) -> list[Rep]:
    if not rep_ids:
        return []
    if not all(scope.may_assign_to(u) for u in rep_ids):
        raise Forbidden("you may only plan for reps in your team", code="not_your_team")
    rows = await User.select(User.id, User.home_lat, User.home_lng, User.capacity_fte).where(
        (User.org_id == scope.org_id) & User.id.is_in(list(rep_ids)) & User.deleted_at.is_null())
    if len(rows) != len(set(rep_ids)):
        raise Invalid("a rep is not a user of this organisation", code="unknown_owner", field="rep_ids")
    return [Rep(str(r["id"]), r["home_lat"], r["home_lng"], float(r["capacity_fte"] or 1.0))
            for r in sorted(rows, key=lambda r: str(r["id"]))]


async def _layer_territories(org_id: uuid.UUID, layer: str) -> list[dict]:
    return await Territory.select(Territory.id, Territory.cells, Territory.name, Territory.region_id).where(
        (Territory.org_id == org_id) & (Territory.layer == layer) & (Territory.overlay == False)
        & Territory.deleted_at.is_null() & Territory.effective_to.is_null()
    ).order_by(Territory.id).output(load_json=True)


async def _current(org_id: uuid.UUID, territory_ids: list[uuid.UUID]) -> dict[str, str]:
    if not territory_ids:
        return {}
    rows = await TerritoryAccount.select(TerritoryAccount.account_id, TerritoryAccount.territory_id).where(
        (TerritoryAccount.org_id == org_id) & TerritoryAccount.valid_to.is_null()
        & TerritoryAccount.territory_id.is_in(territory_ids))
    return {str(r["account_id"]): str(r["territory_id"]) for r in rows}


async def layer_version(org_id: uuid.UUID, layer: str) -> int:
    """The newest version among a layer's territories (deleted ones included): a plan's baseline."""
    row = await Territory.select(Max(Territory.version).as_alias("v")).where(
        (Territory.org_id == org_id) & (Territory.layer == layer)).first()
    return int(row["v"] or 0) if row else 0


async def _check_planner(scope: Scope, region_id: uuid.UUID | None) -> None:
    if scope.principal.is_admin:
        return
    if not scope.principal.is_manager:
        raise Forbidden("only managers and admins plan territories")
    if region_id is None or region_id not in await manager_regions(scope):
        raise Forbidden("managers plan and apply territories of a region their teams cover; give its region_id",
                        code="not_your_region")


async def make_plan(scope: Scope, data: BalanceIn) -> dict:
    """Balance, store the plan as a draft, return the stored row.

    Reads and balances outside any transaction (balancing takes up to a second
    or two, and a SQLite write transaction would hold every other writer), then
    stores the plan in its own unit of work. The layer's version is read first,
    so a territory edit made meanwhile leaves the plan stale, never wrong.
    """
    await _check_planner(scope, data.region_id)
    based_on = await layer_version(scope.org_id, data.layer)
    k = data.territories or len(data.rep_ids)
    if not k:
        raise Invalid("give the number of territories or the reps to cover", code="territories_required")
    if data.rep_ids and len(data.rep_ids) != k:
        raise Invalid("give one rep per territory", code="reps_mismatch", field="rep_ids")
    demands = await _demands(scope, data)
    region = data.region
    if region.all_accounts and any(v is not None for v in (region.cells, region.geojson, region.zips)):
        raise Invalid("give all_accounts or an area, not both", code="area_required", field="region")
    if region.all_accounts:
        # The land the accounts lie on, holes between them included: a full grid to draw on.
        cells = hull_cells([cell_to_latlng(d.cell) for d in demands])
    else:
        cells = await area_cells(scope.org_id, region)
    existing = await _layer_territories(scope.org_id, data.layer)
    index = CellIndex((r["id"], r["cells"]) for r in existing)
    locked: dict[str, str] = {}
    for cell in data.locked_cells:
        owners = index.covering(cell) if is_valid_cell(cell) else ()
        if not owners:
            raise Invalid(f"locked cell {cell} is not in a territory of layer {data.layer!r}",
                          code="invalid_lock", field="locked_cells")
        locked[cell] = str(owners[0])
    inp = BalanceInput(
        demands=demands, territories=k, reps=await _reps(scope, data.rep_ids),
        region=cells, workload_tolerance=data.workload_tolerance, potential_tolerance=data.potential_tolerance,
        locked=locked, current=await _current(scope.org_id, [r["id"] for r in existing]),
        disruption_budget=data.disruption_budget, gap_cap_km=data.gap_cap_km, seed=data.seed, starts=data.starts)
    if not inp.demands and not cells:
        raise Invalid("there are no accounts with a location to balance", code="empty_region")
    try:
        plan = await anyio.to_thread.run_sync(balance, inp)
    except BalanceError as e:
        raise Invalid(e.message, code=e.code) from None
    row = {"id": new_id(), "org_id": scope.org_id, "name": data.name, "status": "draft", "region_id": data.region_id,
           "layer": data.layer, "created_by_id": scope.principal.user_id, "created_at": utcnow(),
           "based_on_version": based_on, "seed": data.seed,
           "request": msgspec.to_builtins(data), "plan": msgspec.to_builtins(plan),
           "applied_at": None, "applied_by_id": None}
    async with unit_of_work():
        await TerritoryPlan.insert(TerritoryPlan(**row))
        await audit(scope, "territory_plan.created", "territory_plans", row["id"],
                    {"territories": k, "met": plan.report.met, "seed": data.seed})
    return row


async def get_plan(scope: Scope, plan_id: uuid.UUID) -> dict:
    if not (scope.principal.is_admin or scope.principal.is_manager):
        raise NotFound("plan not found")
    row = await TerritoryPlan.select().where(
        (TerritoryPlan.org_id == scope.org_id) & (TerritoryPlan.id == plan_id)).output(load_json=True).first()
    if row is None:
        raise NotFound("plan not found")
    return row


def stored_plan(row: dict) -> Plan:
    return msgspec.convert(row["plan"], Plan, strict=False)


async def apply_plan(scope: Scope, plan_id: uuid.UUID) -> ApplyResult:
    """Make the plan's territories real (call inside ``unit_of_work()``)."""
    row = await get_plan(scope, plan_id)
    await _check_planner(scope, row["region_id"])
    if row["status"] != "draft":
        raise Conflict(f"this plan is already {row['status']}", code="plan_not_draft")
    layer = row["layer"]
    if await layer_version(scope.org_id, layer) != row["based_on_version"]:
        await TerritoryPlan.update({TerritoryPlan.status: "stale"}).where(TerritoryPlan.id == plan_id)
        raise Conflict("the territories changed since this plan was made; balance again", code="plan_stale")
    plan = stored_plan(row)
    region = cell_set(plan.assignment)
    existing = {str(r["id"]): r for r in await _layer_territories(scope.org_id, layer)}
    created, updated, deleted = [], [], []
    matched = set()
    for t in plan.territories:
        owners = [uuid.UUID(t.rep_id)] if t.rep_id else []
        if t.label and t.label in existing and t.label not in matched:
            matched.add(t.label)
            kept = difference(existing[t.label]["cells"], region)
            patch = TerritoryPatch(cells=sorted(set(t.cells) | set(kept)))
            if owners:
                patch = msgspec.structs.replace(patch, owner_ids=owners)
            await update_territory(scope, uuid.UUID(t.label), patch, overlap_check=False, place=False)
            updated.append(uuid.UUID(t.label))
        else:
            name = f"{row['name'] or 'Territory'} {t.index + 1}"
            new = await create_territory(scope, TerritoryIn(name=name, cells=t.cells, layer=layer, owner_ids=owners,
                                                            region_id=row["region_id"]),
                                         overlap_check=False, place=False)
            created.append(new["id"])
    for label, r in existing.items():
        if label in matched:
            continue
        rest = difference(r["cells"], region)
        if rest == sorted(r["cells"]):
            continue  # outside the plan's region
        if rest:
            await update_territory(scope, r["id"], TerritoryPatch(cells=rest), overlap_check=False, place=False)
            updated.append(r["id"])
        else:
            await delete_territory(scope, r["id"], place=False)
            deleted.append(r["id"])
    after = [{"id": r["id"], "overlay": False, "cells": r["cells"]}
             for r in await _layer_territories(scope.org_id, layer)]
    clashes = layer_overlaps(layer, after)
    if clashes:
        raise Conflict("applying the plan would leave territories overlapping; nothing was changed",
                       code="territory_overlap", extra={"territories": [str(t) for t in clashes[0].territories]})
    placed = await place_accounts(scope.org_id)
    now = utcnow()
    await TerritoryPlan.update({TerritoryPlan.status: "applied", TerritoryPlan.applied_at: now,
                                TerritoryPlan.applied_by_id: scope.principal.user_id}).where(
        TerritoryPlan.id == plan_id)
    result = ApplyResult(plan_id=plan_id, created=created, updated=updated, deleted=deleted,
                         placements_opened=placed.opened, placements_closed=placed.closed,
                         accounts_moved=placed.moved_accounts)
    detail: dict[str, Any] = msgspec.to_builtins(result)
    await audit(scope, "territory_plan.applied", "territory_plans", plan_id, detail)
    return result


async def plan_svg(scope: Scope, plan_id: uuid.UUID) -> str:
    plan = stored_plan(await get_plan(scope, plan_id))
    labels = [f"{t.index + 1}: {t.accounts} accounts" for t in plan.territories]
    return await anyio.to_thread.run_sync(lambda: render_svg(plan.assignment, lumps=[lump.cell for lump in plan.report.lumps],
                                                            labels=labels))


async def current_svg(scope: Scope, layer: str) -> str:
    rows = await Territory.select(Territory.id, Territory.name, Territory.cells).where(
        scope.territories() & Territory.deleted_at.is_null() & (Territory.layer == layer)
    ).order_by(Territory.name).order_by(Territory.id).output(load_json=True)
    assignment = {cell: i for i, r in enumerate(rows) for cell in r["cells"] or ()}
    return await anyio.to_thread.run_sync(lambda: render_svg(assignment, labels=[r["name"] for r in rows]))
