"""Territories: create, redraw, reassign and delete; every change re-places the accounts.

An area comes from H3 cells, a GeoJSON polygon or ZIP codes and is stored
compacted. Territories of one layer may not overlap unless they are
overlays (409 ``territory_overlap``). After each change the org's accounts are
re-placed (``server.geo.placement``), which moves them between reps' phones
through sync. Admins edit any territory; a manager those of the regions their
teams cover (or with no region), with owners from their team.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from msgspec import UNSET
from piccolo.query.functions.aggregate import Count

from server.access.scope import Scope
from server.accounts.tables import Account
from server.audit.log import audit
from server.common.errors import Conflict, Forbidden, Invalid, NotFound
from server.common.records import get_visible, insert_record, tombstone, update_record
from server.common.time import utcnow
from server.geo.cells import (
    MAX_CELLS,
    POINT_RESOLUTION,
    TERRITORY_RESOLUTION,
    cell_set,
    compact,
    guard_size,
    resolution_of,
)
from server.geo.coverage import difference, overlap, size_at
from server.geo.outlines import geojson_to_cells
from server.geo.ownership import reassign_territory
from server.geo.placement import place_accounts
from server.geo.schemas import Area, TerritoryIn, TerritoryOut, TerritoryPatch
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner, stored_cells
from server.geo.zips import zips_to_cells
from server.orgs.tables import Region, Team
from server.sync.changes import territory_reassigned
from server.users.tables import User

#: Cells an overlap error lists (the count is exact).
SAMPLE = 20


async def org_centre(org_id: uuid.UUID) -> tuple[float, float] | None:
    """Mean position of the org's accounts: where a polygon is expected (catches [lat, lng] swaps)."""
    rows = await Account.raw("SELECT AVG(lat) AS lat, AVG(lng) AS lng FROM accounts "
                             "WHERE org_id = {} AND lat IS NOT NULL AND deleted_at IS NULL", org_id)
    if not rows or rows[0]["lat"] is None:
        return None
    return (float(rows[0]["lat"]), float(rows[0]["lng"]))


async def area_cells(org_id: uuid.UUID, area: Area | dict[str, Any]) -> list[str]:
    """The compacted cells of exactly one of ``cells`` / ``geojson`` / ``zips``."""
    get = area.get if isinstance(area, dict) else lambda k: getattr(area, k)
    given = [k for k in ("cells", "geojson", "zips") if get(k) not in (None, UNSET)]
    if len(given) != 1:
        raise Invalid("give exactly one of cells, geojson or zips", code="area_required")
    res = get("resolution")
    res = TERRITORY_RESOLUTION if res in (None, UNSET) else res
    source = given[0]
    try:
        if source == "cells":
            cells = cell_set(get("cells"))
            finest = max((resolution_of(c) for c in cells), default=POINT_RESOLUTION)
            if finest > POINT_RESOLUTION:
                raise ValueError(f"cells finer than resolution {POINT_RESOLUTION} cannot hold an account")
            guard_size(size_at(cells, finest), finest, MAX_CELLS)
        elif source == "geojson":
            cells = set(geojson_to_cells(get("geojson"), res, near=await org_centre(org_id)))
        else:
            cells = set(zips_to_cells(get("zips"), res))
    except ValueError as e:
        raise Invalid(str(e), code=f"invalid_{source}", field=source) from None
    if not cells:
        raise Invalid(f"the {source} cover no cell at resolution {res}: draw a larger area or use a "
                      "finer resolution", code="empty_region", field=source)
    return compact(cells)


async def manager_regions(scope: Scope) -> set[uuid.UUID]:
    rows = await Team.select(Team.region_id).where(
        (Team.org_id == scope.org_id) & (Team.manager_id == scope.principal.user_id) & Team.deleted_at.is_null()
    )
    return {r["region_id"] for r in rows if r["region_id"]}


async def check_may_edit(scope: Scope, region_id: uuid.UUID | None, owners: set[uuid.UUID]) -> None:
    """Admins may edit any territory; managers those of their regions with owners from their team."""
    if scope.principal.is_admin:
        return
    if not scope.principal.is_manager:
        raise Forbidden("only managers and admins edit territories")
    if region_id is not None and region_id not in await manager_regions(scope):
        raise Forbidden("this territory's region is not one your teams cover", code="not_your_region")
    if not all(scope.may_assign_to(u) for u in owners):
        raise Forbidden("territory owners must be in your team", code="not_your_team")


async def _check_refs(scope: Scope, data: dict[str, Any]) -> None:
    if data.get("region_id") and not await Region.exists().where(
            (Region.org_id == scope.org_id) & (Region.id == data["region_id"]) & Region.deleted_at.is_null()):
        raise Invalid("unknown region", code="unknown_region", field="region_id")
    if data.get("parent_id") and not await Territory.exists().where(
            (Territory.org_id == scope.org_id) & (Territory.id == data["parent_id"]) & Territory.deleted_at.is_null()):
        raise Invalid("unknown parent territory", code="unknown_parent", field="parent_id")
    owners = sorted(set(data.get("owner_ids") or ()))
    if owners:
        found = await User.count().where((User.org_id == scope.org_id) & User.id.is_in(owners)
                                         & User.deleted_at.is_null())
        if found != len(owners):
            raise Invalid("an owner is not a user of this organisation", code="unknown_owner", field="owner_ids")


async def check_overlap(org_id: uuid.UUID, layer: str, cells: list[str], *, exclude: uuid.UUID | None = None) -> None:
    """409 ``territory_overlap`` when ``cells`` overlap another non-overlay territory of ``layer``."""
    rows = await Territory.select(Territory.id, Territory.cells).where(
        (Territory.org_id == org_id) & (Territory.layer == layer) & (Territory.overlay == False)
        & Territory.deleted_at.is_null() & Territory.effective_to.is_null()
    ).output(load_json=True)
    clashes = []
    for row in rows:
        if row["id"] == exclude:
            continue
        shared = overlap(cells, row["cells"] or ())
        if shared:
            clashes.append((row["id"], shared))
    if clashes:
        finest = max(resolution_of(c) for c in cells)
        raise Conflict(
            f"the area overlaps {len(clashes)} territor{'y' if len(clashes) == 1 else 'ies'} of layer {layer!r}; "
            "make it an overlay or redraw it", code="territory_overlap",
            extra={"territories": [str(t) for t, _ in clashes],
                   "cells": sum(size_at(s, finest) for _, s in clashes),
                   "sample": sorted(c for _, s in clashes for c in s)[:SAMPLE]})


def _encode(cells: list[str]) -> str:
    return msgspec.json.encode(sorted(cells)).decode()


async def owners_of(territory_id: uuid.UUID) -> set[uuid.UUID]:
    rows = await TerritoryOwner.select(TerritoryOwner.user_id).where(
        (TerritoryOwner.territory_id == territory_id) & TerritoryOwner.valid_to.is_null())
    return {r["user_id"] for r in rows}


async def create_territory(scope: Scope, data: TerritoryIn, *, overlap_check: bool = True,
                           place: bool = True) -> dict:
    fields = msgspec.structs.asdict(data)
    await check_may_edit(scope, data.region_id, set(data.owner_ids))
    await _check_refs(scope, fields)
    cells = await area_cells(scope.org_id, data)
    if overlap_check and not data.overlay:
        await check_overlap(scope.org_id, data.layer, cells)
    values = {"name": data.name, "layer": data.layer, "overlay": data.overlay, "region_id": data.region_id,
              "parent_id": data.parent_id, "cells": _encode(cells),
              "resolution": max(resolution_of(c) for c in cells), "effective_from": data.effective_from or utcnow(),
              "effective_to": None, "geometry_version": 1, "field_versions": "{}"}
    row = await insert_record(Territory, scope.org_id, values)
    if data.owner_ids:
        await reassign_territory(scope, row["id"], list(data.owner_ids))
    if place:
        await place_accounts(scope.org_id, area=cells)
    await audit(scope, "territory.created", "territories", row["id"],
                {"name": data.name, "layer": data.layer, "cells": len(cells), "owners": [str(u) for u in data.owner_ids]})
    return await get_territory(scope, row["id"], admin=True)


async def get_territory(scope: Scope, territory_id: uuid.UUID, *, admin: bool = False) -> dict:
    condition = (Territory.org_id == scope.org_id) if admin or scope.principal.is_admin else scope.territories()
    return await get_visible(Territory, condition, territory_id, "territory")


async def _editable(scope: Scope, territory_id: uuid.UUID) -> dict:
    row = await get_visible(Territory, Territory.org_id == scope.org_id, territory_id, "territory")
    if not scope.principal.is_admin and not scope.principal.is_manager:
        raise NotFound("territory not found") if territory_id not in scope.owned_territories \
            else Forbidden("only managers and admins edit territories")
    return row


async def update_territory(scope: Scope, territory_id: uuid.UUID, patch: TerritoryPatch,
                           expected_version: int | None = None, *, overlap_check: bool = True,
                           place: bool = True) -> dict:
    row = await _editable(scope, territory_id)
    fields = {f: getattr(patch, f) for f in patch.__struct_fields__ if getattr(patch, f) is not UNSET}
    owners_now = await owners_of(territory_id)
    new_owners = set(fields.get("owner_ids", owners_now))
    await check_may_edit(scope, row["region_id"], owners_now | new_owners)
    if "region_id" in fields:
        await check_may_edit(scope, fields["region_id"], new_owners)
    await _check_refs(scope, fields)
    if fields.get("parent_id") == territory_id:
        raise Invalid("a territory cannot be its own parent", code="unknown_parent", field="parent_id")
    changes: dict[str, Any] = {k: fields[k] for k in ("name", "overlay", "region_id", "parent_id") if k in fields}
    if any(k in fields for k in ("cells", "geojson", "zips")):
        cells = await area_cells(scope.org_id, fields)
        encoded = _encode(cells)
        if encoded != row["cells"]:
            changes.update(cells=encoded, resolution=max(resolution_of(c) for c in cells),
                           geometry_version=row["geometry_version"] + 1)
    overlay = changes.get("overlay", row["overlay"])
    if overlap_check and not overlay and ("cells" in changes or "overlay" in changes):
        stored = changes.get("cells", row["cells"])
        await check_overlap(scope.org_id, row["layer"], msgspec.json.decode(stored), exclude=territory_id)
    updated = await update_record(Territory, row, changes, expected_version)
    if "owner_ids" in fields and new_owners != owners_now:
        await reassign_territory(scope, territory_id, sorted(new_owners))
    if "cells" in changes and place:
        before, after = stored_cells(row["cells"]), stored_cells(changes["cells"])
        await place_accounts(scope.org_id, area=difference(before, after) + difference(after, before))
    if changes or "owner_ids" in fields:
        await audit(scope, "territory.updated", "territories", territory_id,
                    {"fields": sorted(set(changes) | ({"owner_ids"} & set(fields)))})
    return await get_territory(scope, updated["id"], admin=True)


async def delete_territory(scope: Scope, territory_id: uuid.UUID, *, place: bool = True) -> None:
    """Tombstone it: its owners' phones drop it and its accounts, which fall to other territories or none."""
    row = await _editable(scope, territory_id)
    owners = await owners_of(territory_id)
    await check_may_edit(scope, row["region_id"], owners)
    now = utcnow()
    await TerritoryOwner.update({TerritoryOwner.valid_to: now}).where(
        (TerritoryOwner.territory_id == territory_id) & TerritoryOwner.valid_to.is_null())
    await territory_reassigned(scope.org_id, territory_id, frozenset(owners), frozenset())
    fresh = await Territory.select().where(Territory.id == territory_id).first()
    await tombstone(Territory, fresh)
    if place:
        await place_accounts(scope.org_id, area=stored_cells(row["cells"]))
    await audit(scope, "territory.deleted", "territories", territory_id, {"name": row["name"]})


async def list_territories(scope: Scope, layer: str | None = None) -> list[dict]:
    where = scope.territories() & Territory.deleted_at.is_null()
    if layer is not None:
        where = where & (Territory.layer == layer)
    return await Territory.select().where(where).order_by(Territory.name).order_by(Territory.id)


async def describe(org_id: uuid.UUID, rows: list[dict]) -> list[TerritoryOut]:
    """Territory rows with their current owners and account counts (two reads for any number)."""
    ids = [r["id"] for r in rows]
    owners: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    counts: dict[uuid.UUID, int] = dict.fromkeys(ids, 0)
    if ids:
        for r in await TerritoryOwner.select(TerritoryOwner.territory_id, TerritoryOwner.user_id).where(
                (TerritoryOwner.org_id == org_id) & TerritoryOwner.territory_id.is_in(ids)
                & TerritoryOwner.valid_to.is_null()).order_by(TerritoryOwner.user_id):
            owners[r["territory_id"]].append(r["user_id"])
        for r in await TerritoryAccount.select(TerritoryAccount.territory_id,
                                               Count(TerritoryAccount.id).as_alias("n")).where(
                (TerritoryAccount.org_id == org_id) & TerritoryAccount.territory_id.is_in(ids)
                & TerritoryAccount.valid_to.is_null()).group_by(TerritoryAccount.territory_id):
            counts[r["territory_id"]] = r["n"]
    out = []
    for r in rows:
        cells = stored_cells(r["cells"])
        out.append(TerritoryOut(id=r["id"], name=r["name"], layer=r["layer"], overlay=r["overlay"],
                                region_id=r["region_id"], parent_id=r["parent_id"], cells=cells,
                                resolution=r["resolution"], effective_from=r["effective_from"],
                                geometry_version=r["geometry_version"], version=r["version"],
                                owner_ids=owners[r["id"]], accounts=counts[r["id"]]))
    return out
